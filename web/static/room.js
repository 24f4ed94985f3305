/* portalo – live workshop room (templates/room.html).
 *
 * Speaks the signaling protocol of signaling/PROTOCOL.md (version 1) over one
 * WebSocket and keeps up to two WebRTC connections with the SFU:
 *   "down" – what this page receives; the server offers, we answer;
 *   "up"   – what this page publishes (moderators from the start, others once
 *            granted); we offer, the server answers.
 * No framework, no build step; loaded with `defer`, so the DOM is ready.
 *
 * Test hook for browser tests (read-only):
 *   window.portaloRoom.state() → {joined, participants: [{id, name, role, hand,
 *     audio, video, speaking, chatMuted, connected, self}], chatCount,
 *     handRaised, removed, ended, wsOpen}
 *   window.portaloRoom.pcs.up / .pcs.down → the current RTCPeerConnection or null
 */
(function () {
  'use strict';

  const root = document.getElementById('room');
  if (!root) return;

  const $ = (id) => document.getElementById(id);
  const cfg = {
    wsPath: root.dataset.wsPath || '',
    moderator: root.dataset.moderator === 'true',
    strings: parseJSON(root.dataset.strings) || {},
    lang: document.documentElement.lang || 'de',
  };

  const el = {
    lobby: $('lobby'), lobbyStatus: $('lobby-status'), testDevices: $('test-devices'),
    preview: $('preview'), previewHint: $('preview-hint'), joinForm: $('join-form'),
    name: $('display-name'), nameError: $('display-name-error'), audioOnly: $('audio-only'),
    joinButton: $('join-button'),
    main: $('room-main'), heading: $('room-heading'), status: $('room-status'),
    video: $('remote-video'), poster: $('audio-only-poster'), selfVideo: $('self-video'),
    audios: $('remote-audio'), tapToHear: $('tap-to-hear'),
    poorLink: $('poor-link'), poorLinkAudioOnly: $('poor-link-audio-only'), poorLinkDismiss: $('poor-link-dismiss'),
    hand: $('hand-button'), mic: $('mic-button'), camera: $('camera-button'),
    audioOnlyButton: $('audio-only-button'), leave: $('leave-button'), end: $('end-button'),
    chatLog: $('chat-log'), chatForm: $('chat-form'), chatInput: $('chat-input'), chatError: $('chat-error'),
    participants: $('participants'), participantCount: $('participant-count'),
    over: $('room-over'), overHeading: $('room-over-heading'), overText: $('room-over-text'),
  };

  // ---------------------------------------------------------------- state

  const st = {
    ws: null, wsOpen: false, joined: false, everJoined: false, closing: false,
    removed: false, ended: false, left: false,
    self: null, resume: null, name: '', audioOnly: false, handRaised: false,
    participants: new Map(), // id → participant (others and self)
    iceServers: [],
    reconnectAttempt: 0, reconnectTimer: 0,
    nextId: 1, pending: new Map(), // request id → type
    rights: { audio: false, video: false },
    localStream: null, previewStream: null, micOn: false, camOn: false,
    pcs: { up: null, down: null },
    queued: { up: [], down: [] }, // remote candidates before the description
    iceRestart: { up: null, down: null }, // the connection whose ICE restart is under way
    signalChain: Promise.resolve(),
    upBusy: false, upAgain: false, upAgainRestart: false, pubChain: Promise.resolve(),
    stats: { timer: 0, last: null, lossWindow: [], lastFrames: 0, lastFrameAt: 0, snoozeUntil: 0 },
  };

  // ---------------------------------------------------------------- texts

  function parseJSON(s) {
    try { return JSON.parse(s || ''); } catch (e) { return null; }
  }

  function t(id, vars) {
    let s = cfg.strings[id];
    if (typeof s !== 'string') s = id;
    return fill(s, vars);
  }

  function tn(id, count) {
    const forms = cfg.strings[id];
    if (!forms || typeof forms !== 'object') return String(count);
    let form = 'other';
    try { form = new Intl.PluralRules(cfg.lang).select(count); } catch (e) { /* old browser */ }
    const s = forms[form] || forms.other || forms.many || Object.values(forms)[0] || '';
    return fill(s, { count: count.toLocaleString(cfg.lang) });
  }

  function fill(s, vars) {
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }

  function errorText(code) {
    const id = 'RoomErr' + String(code || '').split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
    return typeof cfg.strings[id] === 'string' ? cfg.strings[id] : t('RoomErrGeneric');
  }

  // ---------------------------------------------------------------- small UI helpers

  function show(node, on) { if (node) node.hidden = !on; }

  function setStatus(text) {
    // Re-setting the same text would not be announced again.
    if (el.status.textContent === text) el.status.textContent = '';
    el.status.textContent = text;
  }

  function lobbyMessage(text) { el.lobbyStatus.textContent = text; }

  function pressed(button, on) { if (button) button.setAttribute('aria-pressed', on ? 'true' : 'false'); }

  function make(tag, className, text) {
    const n = document.createElement(tag);
    if (className) n.className = className;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function clock(at) {
    const d = new Date(at);
    if (isNaN(d)) return '';
    try { return d.toLocaleTimeString(cfg.lang, { hour: '2-digit', minute: '2-digit' }); } catch (e) { return ''; }
  }

  // ---------------------------------------------------------------- lobby

  function supported() {
    return 'RTCPeerConnection' in window && 'WebSocket' in window;
  }

  async function getMedia(audio, video) {
    return navigator.mediaDevices.getUserMedia({
      audio: audio ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true } : false,
      video: video ? { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } } : false,
    });
  }

  function mediaErrorText(err) {
    return err && (err.name === 'NotAllowedError' || err.name === 'SecurityError') ? t('RoomCameraDenied') : t('RoomCameraError');
  }

  async function togglePreview() {
    if (st.previewStream) { stopPreview(); return; }
    el.testDevices.disabled = true;
    try {
      st.previewStream = await getMedia(true, true);
      el.preview.srcObject = st.previewStream;
      show(el.preview, true); show(el.previewHint, true);
      el.testDevices.textContent = t('RoomTestStop');
      el.preview.play().catch(() => {});
      lobbyMessage('');
    } catch (err) {
      lobbyMessage(mediaErrorText(err));
    } finally {
      el.testDevices.disabled = false;
    }
  }

  function stopPreview() {
    if (st.previewStream) st.previewStream.getTracks().forEach((tr) => tr.stop());
    st.previewStream = null;
    el.preview.srcObject = null;
    show(el.preview, false); show(el.previewHint, false);
    el.testDevices.textContent = t('RoomTestDevices');
  }

  function validName(name) {
    const n = [...name].length;
    return n >= 1 && n <= 40;
  }

  function onJoinSubmit(ev) {
    ev.preventDefault();
    const name = el.name.value.trim();
    if (!validName(name)) {
      nameError(t('RoomErrInvalidName'));
      el.name.focus();
      return;
    }
    nameError('');
    st.name = name;
    st.audioOnly = el.audioOnly.checked;
    pressed(el.audioOnlyButton, st.audioOnly);
    el.joinButton.disabled = true;
    lobbyMessage(t('RoomStatusConnecting'));
    connect();
  }

  function nameError(text) {
    el.nameError.textContent = text;
    show(el.nameError, !!text);
    if (text) {
      el.name.setAttribute('aria-invalid', 'true');
      el.name.setAttribute('aria-describedby', 'display-name-hint display-name-error');
    } else {
      el.name.removeAttribute('aria-invalid');
      el.name.setAttribute('aria-describedby', 'display-name-hint');
    }
  }

  // ---------------------------------------------------------------- WebSocket

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(scheme + '//' + location.host + cfg.wsPath);
    } catch (e) {
      onConnectFailed();
      return;
    }
    st.ws = ws;
    ws.onopen = () => {
      if (st.ws !== ws) return;
      st.wsOpen = true;
      sendJoin();
    };
    ws.onmessage = (ev) => {
      if (st.ws !== ws) return;
      const msg = parseJSON(ev.data);
      if (msg && typeof msg.type === 'string') handle(msg);
    };
    ws.onclose = () => {
      if (st.ws !== ws) return;
      st.ws = null;
      st.wsOpen = false;
      onSocketClosed();
    };
  }

  function send(msg) {
    if (!st.ws || st.ws.readyState !== WebSocket.OPEN) return null;
    const id = 'm' + st.nextId++;
    st.ws.send(JSON.stringify(Object.assign({ v: 1, id: id }, msg)));
    st.pending.set(id, msg.type);
    if (st.pending.size > 100) st.pending.delete(st.pending.keys().next().value);
    return id;
  }

  function sendJoin() {
    const msg = { type: 'join', name: st.name, audioOnly: st.audioOnly };
    if (st.resume) msg.resume = st.resume;
    send(msg);
  }

  function onSocketClosed() {
    st.joined = false;
    if (st.closing || st.removed || st.ended || st.left) return;
    if (!st.everJoined) { onConnectFailed(); return; }
    setStatus(t('RoomStatusReconnecting'));
    scheduleReconnect();
  }

  function onConnectFailed() {
    el.joinButton.disabled = false;
    lobbyMessage(t('RoomStatusConnectFailed'));
  }

  // Tries at 0.5 s, 1 s, 2 s, 4 s … (at most 10 s apart) for about five minutes.
  function scheduleReconnect() {
    if (st.reconnectAttempt >= 35) { setStatus(t('RoomStatusConnectionLost')); return; }
    const delay = Math.min(500 * Math.pow(2, st.reconnectAttempt), 10000);
    st.reconnectAttempt++;
    clearTimeout(st.reconnectTimer);
    st.reconnectTimer = setTimeout(connect, delay);
  }

  // ---------------------------------------------------------------- messages

  function handle(msg) {
    switch (msg.type) {
      case 'joined': onJoined(msg); break;
      case 'signal': if (msg.signal) queueSignal(msg.signal); break;
      case 'participant': if (msg.participant) onParticipant(msg.participant); break;
      case 'left': onLeft(msg.id); break;
      case 'chat': if (msg.message) addChat(msg.message, true); break;
      case 'chatDeleted': onChatDeleted(msg.messageId); break;
      case 'rights': onRights({ audio: !!msg.audio, video: !!msg.video }, true); break;
      case 'mute': onMuted(); break;
      case 'removed': finish('removed'); break;
      case 'ended': finish('ended'); break;
      case 'error': onError(msg); break;
      default: break; // newer servers may add types: ignore them
    }
  }

  function onJoined(msg) {
    const first = !st.everJoined;
    const resumed = !!st.resume && !first;
    st.joined = true;
    st.everJoined = true;
    st.reconnectAttempt = 0;
    st.resume = msg.resume || null;
    st.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
    st.self = msg.self || null;
    if (st.self && st.self.name) st.name = st.self.name;
    // Every join brings fresh media connections.
    closePCs();
    st.participants.clear();
    el.participants.textContent = '';
    if (st.self) st.participants.set(st.self.id, Object.assign({}, st.self, { self: true }));
    (msg.participants || []).forEach((p) => st.participants.set(p.id, p));
    st.participants.forEach(renderParticipant);
    updateCount();
    (msg.chat || []).forEach((m) => addChat(m, false));
    if (st.self) {
      st.handRaised = !!st.self.hand;
      pressed(el.hand, st.handRaised);
    }
    showAudioOnly(st.audioOnly);
    if (first) openRoom();
    setStatus(resumed || !first ? t('RoomStatusReconnected') : t('RoomStatusJoined'));
    startStats();
    let rights = { audio: !!(st.self && st.self.audio), video: !!(st.self && st.self.video) };
    if (cfg.moderator && !rights.audio && !rights.video) rights = { audio: true, video: true };
    onRights(rights, false);
  }

  function openRoom() {
    show(el.lobby, false);
    show(el.main, true);
    if (!cfg.moderator) stopPreview(); // participants: camera off while watching
    el.heading.focus();
  }

  function onError(msg) {
    const type = st.pending.get(msg.re);
    st.pending.delete(msg.re);
    if (msg.code === 'resume_failed') {
      st.resume = null; // join again fresh, same name
      if (st.wsOpen) sendJoin();
      return;
    }
    const text = errorText(msg.code);
    if (type === 'join' && !st.everJoined) {
      el.joinButton.disabled = false;
      lobbyMessage('');
      if (msg.code === 'invalid_name') { nameError(text); el.name.focus(); } else lobbyMessage(text);
      closeSocket();
      return;
    }
    if (type === 'chat') { chatError(text); return; }
    if (type === 'signal') st.upBusy = false; // the server refused an offer: allow a new one
    setStatus(text);
  }

  function closeSocket() {
    if (!st.ws) return;
    const ws = st.ws;
    st.ws = null;
    st.wsOpen = false;
    try { ws.close(1000); } catch (e) { /* already closed */ }
  }

  // ---------------------------------------------------------------- participants

  function onParticipant(p) {
    const old = st.participants.get(p.id);
    const isSelf = st.self && p.id === st.self.id;
    const merged = Object.assign({}, p, { self: !!isSelf });
    st.participants.set(p.id, merged);
    renderParticipant(merged);
    updateCount();
    if (isSelf) {
      st.self = merged;
      st.handRaised = !!p.hand;
      pressed(el.hand, st.handRaised);
      return;
    }
    if (!old) announce(t('RoomJoinedBy', { name: p.name }));
    else if (p.hand && !old.hand && cfg.moderator) announce(t('RoomHandRaisedBy', { name: p.name }));
  }

  function onLeft(id) {
    const p = st.participants.get(id);
    if (!p) return;
    st.participants.delete(id);
    const li = document.getElementById('p-' + id);
    if (li) li.remove();
    updateCount();
    announce(t('RoomLeftBy', { name: p.name }));
  }

  // Joins and leaves are announced only to moderators and in small rooms,
  // so that a full room does not talk all the time.
  function announce(text) {
    if (cfg.moderator || st.participants.size <= 8) setStatus(text);
  }

  function updateCount() {
    el.participantCount.textContent = tn('RoomParticipantsCount', st.participants.size);
    if (cfg.moderator) {
      let hands = 0;
      st.participants.forEach((p) => { if (p.hand) hands++; });
      if (hands) el.participantCount.textContent += ' · ' + tn('RoomHandsCount', hands);
    }
  }

  function renderParticipant(p) {
    let li = document.getElementById('p-' + p.id);
    if (!li) {
      li = buildParticipant(p);
      el.participants.appendChild(li);
    }
    li.querySelector('.p-name').textContent = p.name + (p.self ? ' (' + t('RoomYou') + ')' : '');
    show(li.querySelector('.p-role'), p.role === 'moderator');
    show(li.querySelector('.p-hand'), !!p.hand);
    show(li.querySelector('.p-speaking'), !!p.speaking);
    show(li.querySelector('.p-mic'), !!p.audio && p.role !== 'moderator');
    show(li.querySelector('.p-chatmuted'), !!p.chatMuted);
    show(li.querySelector('.p-away'), p.connected === false);
    li.classList.toggle('has-hand', !!p.hand);
    li.classList.toggle('is-speaking', !!p.speaking);
    const acts = li.querySelector('.p-actions');
    if (acts) updateActions(acts, p);
  }

  function buildParticipant(p) {
    const li = make('li', 'participant');
    li.id = 'p-' + p.id;
    const line = make('div', 'p-line');
    line.appendChild(make('span', 'p-name'));
    const hand = make('span', 'p-hand badge', '✋');
    hand.setAttribute('role', 'img');
    hand.setAttribute('aria-label', t('RoomHandIcon'));
    line.appendChild(hand);
    line.appendChild(make('span', 'p-role badge', t('RoomRoleModerator')));
    line.appendChild(make('span', 'p-speaking badge', t('RoomSpeaking')));
    line.appendChild(make('span', 'p-mic badge', t('RoomMayUseMic')));
    line.appendChild(make('span', 'p-chatmuted badge', t('RoomChatMutedBadge')));
    line.appendChild(make('span', 'p-away badge', t('RoomDisconnected')));
    li.appendChild(line);
    if (cfg.moderator && !p.self && p.role !== 'moderator') li.appendChild(buildActions(p));
    return li;
  }

  const ACTIONS = [
    { key: 'grantMic', label: 'RoomActGrantMic' },
    { key: 'grantCam', label: 'RoomActGrantCam' },
    { key: 'mute', label: 'RoomActMute' },
    { key: 'revoke', label: 'RoomActRevoke' },
    { key: 'chat', label: 'RoomActMuteChat' },
    { key: 'remove', label: 'RoomActRemove', danger: true },
  ];

  function buildActions(p) {
    const box = make('div', 'p-actions');
    ACTIONS.forEach((a) => {
      const b = make('button', a.danger ? 'small danger' : 'small secondary');
      b.type = 'button';
      b.dataset.action = a.key;
      b.dataset.target = p.id;
      b.appendChild(make('span', 'act-label'));
      b.appendChild(make('span', 'visually-hidden p-for'));
      box.appendChild(b);
    });
    return box;
  }

  function updateActions(box, p) {
    const visible = {
      grantMic: !p.audio, grantCam: !p.video, mute: !!p.audio,
      revoke: !!(p.audio || p.video), chat: true, remove: true,
    };
    box.querySelectorAll('button').forEach((b) => {
      const key = b.dataset.action;
      let label = ACTIONS.find((a) => a.key === key).label;
      if (key === 'chat' && p.chatMuted) label = 'RoomActUnmuteChat';
      b.querySelector('.act-label').textContent = t(label);
      b.querySelector('.p-for').textContent = ' (' + p.name + ')';
      show(b, visible[key]);
    });
  }

  function onParticipantAction(ev) {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const p = st.participants.get(b.dataset.target);
    if (!p) return;
    switch (b.dataset.action) {
      case 'grantMic': moderate({ action: 'grant', target: p.id, audio: true, video: !!p.video }); break;
      case 'grantCam': moderate({ action: 'grant', target: p.id, audio: true, video: true }); break;
      case 'mute': moderate({ action: 'mute', target: p.id }); break;
      case 'revoke': moderate({ action: 'revoke', target: p.id, audio: true, video: true }); break;
      case 'chat': moderate({ action: p.chatMuted ? 'unmuteChat' : 'muteChat', target: p.id }); break;
      case 'remove':
        if (window.confirm(t('RoomRemoveConfirm', { name: p.name }))) moderate({ action: 'remove', target: p.id });
        break;
    }
  }

  function moderate(fields) { send(Object.assign({ type: 'moderate' }, fields)); }

  // ---------------------------------------------------------------- chat

  function addChat(m, live) {
    if (!m || !m.id || document.getElementById('chat-' + m.id)) return;
    const li = make('div', 'chat-message');
    li.id = 'chat-' + m.id;
    li.dataset.id = m.id;
    const head = make('p', 'chat-head');
    head.appendChild(make('span', 'chat-name', m.name || ''));
    const time = make('time', 'chat-time', clock(m.at));
    if (m.at) time.dateTime = m.at;
    head.appendChild(time);
    li.appendChild(head);
    li.appendChild(make('p', 'chat-text', m.text || ''));
    if (cfg.moderator) {
      const b = make('button', 'small secondary chat-delete');
      b.type = 'button';
      b.dataset.messageId = m.id;
      b.appendChild(make('span', '', t('RoomChatDelete')));
      b.appendChild(make('span', 'visually-hidden', ' (' + t('RoomChatDeleteWhich', { name: m.name || '' }) + ')'));
      li.appendChild(b);
    }
    const log = el.chatLog;
    const atEnd = !live || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(li);
    while (log.children.length > 200) log.firstElementChild.remove();
    if (atEnd) log.scrollTop = log.scrollHeight;
  }

  function chatCount() {
    return el.chatLog.querySelectorAll('.chat-message:not(.deleted)').length;
  }

  function onChatDeleted(id) {
    const li = document.getElementById('chat-' + id);
    if (!li || li.classList.contains('deleted')) return;
    const hadFocus = li.contains(document.activeElement);
    li.textContent = '';
    li.classList.add('deleted');
    li.appendChild(make('p', 'chat-text muted', t('RoomChatDeleted')));
    if (hadFocus) el.chatInput.focus();
  }

  function onChatSubmit(ev) {
    ev.preventDefault();
    const text = el.chatInput.value.trim();
    if (!text) { el.chatInput.focus(); return; }
    if ([...text].length > 500) { chatError(t('RoomErrInvalidText')); return; }
    chatError('');
    if (send({ type: 'chat', text: text })) el.chatInput.value = '';
    el.chatInput.focus();
  }

  function chatError(text) {
    el.chatError.textContent = text;
    show(el.chatError, !!text);
    el.chatInput.setAttribute('aria-describedby', text ? 'chat-hint chat-error' : 'chat-hint');
    if (text) setStatus(text);
  }

  function onChatLogClick(ev) {
    const b = ev.target.closest('button[data-message-id]');
    if (b) moderate({ action: 'deleteChat', messageId: b.dataset.messageId });
  }

  // ---------------------------------------------------------------- hand, audio only, leave, end

  function toggleHand() {
    st.handRaised = !st.handRaised;
    pressed(el.hand, st.handRaised);
    send({ type: 'hand', raised: st.handRaised });
    setStatus(t(st.handRaised ? 'RoomHandYouRaised' : 'RoomHandYouLowered'));
  }

  function setAudioOnly(on) {
    st.audioOnly = on;
    pressed(el.audioOnlyButton, on);
    el.audioOnly.checked = on;
    send({ type: 'audioOnly', enabled: on });
    showAudioOnly(on);
    show(el.poorLink, false);
    st.stats.lastFrameAt = Date.now();
    setStatus(t(on ? 'RoomAudioOnlyOn' : 'RoomAudioOnlyOff'));
  }

  function showAudioOnly(on) {
    pressed(el.audioOnlyButton, on);
    el.video.classList.toggle('off', on);
    updatePoster();
  }

  // The text over the video area: audio only, or waiting for the video.
  const audioOnlyPosterText = el.poster.textContent;
  function updatePoster() {
    const hasVideo = videoTracks.some((tr) => tr.readyState === 'live');
    el.poster.textContent = st.audioOnly ? audioOnlyPosterText : t('RoomStatusWaitingVideo');
    show(el.poster, st.audioOnly || !hasVideo);
  }

  function leave() {
    send({ type: 'leave' });
    finish('left');
  }

  function endRoom() {
    if (window.confirm(t('RoomEndConfirm'))) moderate({ action: 'end' });
  }

  // Stops everything and shows why: 'removed', 'ended' or 'left'.
  function finish(why) {
    st[why] = true;
    st.joined = false;
    clearTimeout(st.reconnectTimer);
    stopStats();
    closePCs();
    stopLocal();
    stopPreview();
    closeSocket();
    show(el.lobby, false);
    show(el.main, false);
    const text = { removed: 'RoomRemoved', ended: 'RoomEnded', left: 'RoomLeft' }[why];
    el.overText.textContent = t(text);
    show(el.over, true);
    el.overHeading.focus();
  }

  // ---------------------------------------------------------------- signaling

  // Signals are handled strictly in order: each waits for the one before.
  function queueSignal(sig) {
    st.signalChain = st.signalChain
      .then(() => (sig.direction === 'down' ? onDownSignal(sig) : onUpSignal(sig)))
      .catch((err) => { console.warn('portalo: signal failed', err); });
  }

  function sendSignal(direction, fields) {
    send({ type: 'signal', signal: Object.assign({ direction: direction }, fields) });
  }

  function newPC(direction) {
    const pc = new RTCPeerConnection({ iceServers: st.iceServers });
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate && st.pcs[direction] === pc) {
        sendSignal(direction, { candidate: ev.candidate.toJSON() });
      }
    };
    // Chromium may leave iceConnectionState at "disconnected" when every
    // candidate pair is gone and report "failed" only in connectionState.
    const watch = () => {
      if (st.pcs[direction] !== pc) return;
      if (mediaFailed(pc)) { onIceFailed(direction, pc); return; }
      if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') onMediaBack(direction, pc);
      else if (pc.iceConnectionState === 'disconnected') scheduleRestartIfStuck(direction, pc);
    };
    pc.oniceconnectionstatechange = watch;
    pc.onconnectionstatechange = watch;
    return pc;
  }

  function mediaFailed(pc) {
    return pc.iceConnectionState === 'failed' || pc.connectionState === 'failed';
  }

  async function addRemoteCandidate(direction, pc, cand) {
    if (!pc || !pc.remoteDescription) { st.queued[direction].push(cand); return; }
    try { await pc.addIceCandidate(cand); } catch (e) { console.warn('portalo: candidate', e); }
  }

  async function flushCandidates(direction, pc) {
    const list = st.queued[direction];
    st.queued[direction] = [];
    for (const c of list) await addRemoteCandidate(direction, pc, c);
  }

  // A failed connection gets an ICE restart (a new path, e.g. after a
  // network change). One at a time per connection: if it has not brought
  // the media back after ICE_RETRY, the next failure may try again.
  const ICE_STUCK = 5000;
  const ICE_RETRY = 10000;

  function onIceFailed(direction, pc) {
    // Without signaling there is nobody to restart with; the rejoin after
    // a reconnect brings new connections anyway.
    if (!st.joined || st.iceRestart[direction] === pc) return;
    st.iceRestart[direction] = pc;
    setStatus(t('RoomStatusMediaProblem'));
    if (direction === 'down') send({ type: 'restartIce' });
    else negotiateUp(true).catch((err) => console.warn('portalo: ICE restart', err));
    setTimeout(() => {
      if (st.iceRestart[direction] !== pc) return;
      st.iceRestart[direction] = null;
      if (st.pcs[direction] === pc && (mediaFailed(pc) || pc.iceConnectionState === 'disconnected')) onIceFailed(direction, pc);
    }, ICE_RETRY);
  }

  // "disconnected" may heal by itself; when it lasts, the path is gone
  // without a "failed" (a silent network change): restart then.
  function scheduleRestartIfStuck(direction, pc) {
    setTimeout(() => {
      if (st.pcs[direction] === pc && pc.iceConnectionState === 'disconnected') onIceFailed(direction, pc);
    }, ICE_STUCK);
  }

  function onMediaBack(direction, pc) {
    if (st.iceRestart[direction] !== pc) return;
    st.iceRestart[direction] = null;
    setStatus(t('RoomStatusReconnected'));
  }

  // down: the server offers, we answer.
  async function onDownSignal(sig) {
    if (sig.candidate) { await addRemoteCandidate('down', st.pcs.down, sig.candidate); return; }
    if (!sig.description || sig.description.type !== 'offer') return;
    if (!st.pcs.down) st.pcs.down = newDownPC();
    const pc = st.pcs.down;
    await pc.setRemoteDescription(sig.description);
    await flushCandidates('down', pc);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (st.pcs.down === pc) sendSignal('down', { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
  }

  function newDownPC() {
    const pc = newPC('down');
    pc.ontrack = (ev) => {
      if (st.pcs.down !== pc) return;
      attachTrack(ev.track);
      ev.streams.forEach((s) => s.addEventListener('removetrack', (e) => detachTrack(e.track)));
    };
    return pc;
  }

  // ---------------------------------------------------------------- received media

  const videoTracks = []; // received video tracks, first live one is shown

  // Video goes to #remote-video (muted: it carries no sound, so it may
  // always autoplay); every audio track gets an <audio> element of its own.
  function attachTrack(track) {
    if (track.kind === 'video') {
      if (!videoTracks.includes(track)) {
        videoTracks.push(track);
        track.addEventListener('ended', () => detachTrack(track));
      }
      showVideo();
      return;
    }
    if (audioFor(track)) return;
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.trackId = track.id;
    audio.srcObject = new MediaStream([track]);
    el.audios.appendChild(audio);
    track.addEventListener('ended', () => detachTrack(track));
    play(audio);
  }

  function audioFor(track) {
    return Array.from(el.audios.querySelectorAll('audio')).find((a) => a.dataset.trackId === track.id) || null;
  }

  function detachTrack(track) {
    if (track.kind === 'video') {
      const i = videoTracks.indexOf(track);
      if (i >= 0) videoTracks.splice(i, 1);
      showVideo();
      return;
    }
    const a = audioFor(track);
    if (a) { a.srcObject = null; a.remove(); }
  }

  function showVideo() {
    const live = videoTracks.find((tr) => tr.readyState === 'live');
    const current = el.video.srcObject && el.video.srcObject.getVideoTracks()[0];
    if (live && current === live) return;
    el.video.srcObject = live ? new MediaStream([live]) : null;
    if (live) play(el.video);
    st.stats.lastFrameAt = Date.now();
    updatePoster();
  }

  function play(media) {
    const p = media.play();
    if (p && p.catch) {
      p.catch((err) => { if (err && err.name === 'NotAllowedError') show(el.tapToHear, true); });
    }
  }

  function tapToHear() {
    show(el.tapToHear, false);
    el.audios.querySelectorAll('audio').forEach(play);
    if (el.video.srcObject) play(el.video);
  }

  function removeReceived() {
    videoTracks.length = 0;
    el.video.srcObject = null;
    updatePoster();
    el.audios.querySelectorAll('audio').forEach((a) => { a.srcObject = null; a.remove(); });
  }

  // ---------------------------------------------------------------- publishing (up)

  async function onRights(rights, changed) {
    const before = st.rights;
    st.rights = rights;
    show(el.mic, rights.audio);
    show(el.camera, rights.video);
    if (changed && !cfg.moderator) {
      if ((rights.audio && !before.audio) || (rights.video && !before.video)) setStatus(t(rights.video ? 'RoomRightsVideo' : 'RoomRightsAudio'));
      else if ((before.audio && !rights.audio) || (before.video && !rights.video)) setStatus(t('RoomRightsRevoked'));
    }
    st.pubChain = st.pubChain.then(updatePublishing).catch((err) => {
      console.warn('portalo: publishing failed', err);
      setStatus(mediaErrorText(err));
    });
    return st.pubChain;
  }

  // Makes the up connection carry what the rights allow: adds tracks that
  // became allowed, removes those that no longer are, and renegotiates.
  async function updatePublishing() {
    const want = st.rights;
    if (!want.audio && !want.video) { closeUp(); stopLocal(); return; }
    await ensureLocalTracks(want);
    if (!st.joined) return;
    const pc = st.pcs.up || (st.pcs.up = newPC('up'));
    let change = false;
    ['audio', 'video'].forEach((kind) => {
      const tr = pc.getTransceivers().find((x) => x.sender.track && x.sender.track.kind === kind);
      const track = localTrack(kind);
      if (want[kind] && !tr && track) { addSender(pc, track); change = true; }
      if (!want[kind] && tr) { pc.removeTrack(tr.sender); change = true; }
    });
    stopUnwanted(want);
    refreshMediaButtons();
    if (change) await negotiateUp(false);
  }

  function localTrack(kind) {
    if (!st.localStream) return null;
    return st.localStream.getTracks().find((tr) => tr.kind === kind && tr.readyState === 'live') || null;
  }

  // Gets the tracks the rights allow, reusing the lobby preview's.
  async function ensureLocalTracks(want) {
    if (!st.localStream) st.localStream = new MediaStream();
    const needAudio = want.audio && !localTrack('audio');
    const needVideo = want.video && !localTrack('video');
    if (!needAudio && !needVideo) return;
    const fromPreview = st.previewStream && st.previewStream.getTracks().filter((tr) => tr.readyState === 'live');
    let got = [];
    if (fromPreview && fromPreview.length) {
      got = fromPreview;
      st.previewStream = null; // the tracks now belong to the room
    }
    const missingAudio = needAudio && !got.some((tr) => tr.kind === 'audio');
    const missingVideo = needVideo && !got.some((tr) => tr.kind === 'video');
    if (missingAudio || missingVideo) {
      const s = await getMedia(missingAudio, missingVideo);
      got = got.concat(s.getTracks());
    }
    got.forEach((tr) => {
      if (tr.kind === 'audio' && !needAudio) { tr.stop(); return; }
      if (tr.kind === 'video' && !needVideo) { tr.stop(); return; }
      st.localStream.addTrack(tr);
      if (tr.kind === 'audio') st.micOn = cfg.moderator; // participants switch on themselves
      if (tr.kind === 'video') st.camOn = true;
      tr.enabled = tr.kind === 'audio' ? st.micOn : st.camOn;
    });
    const v = localTrack('video');
    el.selfVideo.srcObject = v ? new MediaStream([v]) : null;
    show(el.selfVideo, !!v);
    if (v) el.selfVideo.play().catch(() => {});
  }

  function addSender(pc, track) {
    if (track.kind === 'video') {
      pc.addTransceiver(track, {
        direction: 'sendonly',
        streams: [st.localStream],
        sendEncodings: [
          { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
          { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
          { rid: 'f', maxBitrate: 1500000 },
        ],
      });
    } else {
      pc.addTransceiver(track, { direction: 'sendonly', streams: [st.localStream] });
    }
  }

  function stopUnwanted(want) {
    if (!st.localStream) return;
    st.localStream.getTracks().forEach((tr) => {
      if (!want[tr.kind]) { tr.stop(); st.localStream.removeTrack(tr); }
    });
    if (!want.video) { el.selfVideo.srcObject = null; show(el.selfVideo, false); st.camOn = false; }
    if (!want.audio) st.micOn = false;
  }

  // up: we offer, the server answers. One negotiation at a time; a request
  // during one is done right after it.
  async function negotiateUp(iceRestart) {
    const pc = st.pcs.up;
    if (!pc) return;
    if (st.upBusy) { st.upAgain = true; st.upAgainRestart = st.upAgainRestart || !!iceRestart; return; }
    st.upBusy = true;
    try {
      const offer = await pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
      await pc.setLocalDescription(offer);
      if (st.pcs.up === pc) sendSignal('up', { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
    } catch (err) {
      st.upBusy = false;
      throw err;
    }
  }

  async function onUpSignal(sig) {
    const pc = st.pcs.up;
    if (sig.candidate) { await addRemoteCandidate('up', pc, sig.candidate); return; }
    if (!pc || !sig.description || sig.description.type !== 'answer') return;
    if (pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription(sig.description);
    await flushCandidates('up', pc);
    st.upBusy = false;
    if (st.upAgain) {
      const restart = st.upAgainRestart;
      st.upAgain = false;
      st.upAgainRestart = false;
      await negotiateUp(restart);
    }
  }

  function closeUp() {
    if (st.pcs.up) st.pcs.up.close();
    st.pcs.up = null;
    st.queued.up = [];
    st.upBusy = false;
    st.upAgain = false;
    st.upAgainRestart = false;
  }

  function stopLocal() {
    if (st.localStream) st.localStream.getTracks().forEach((tr) => tr.stop());
    st.localStream = null;
    st.micOn = false;
    st.camOn = false;
    el.selfVideo.srcObject = null;
    show(el.selfVideo, false);
    refreshMediaButtons();
  }

  function closePCs() {
    closeUp();
    if (st.pcs.down) st.pcs.down.close();
    st.pcs.down = null;
    st.queued.down = [];
    removeReceived();
  }

  function refreshMediaButtons() {
    pressed(el.mic, st.micOn && !!localTrack('audio'));
    pressed(el.camera, st.camOn && !!localTrack('video'));
  }

  function toggleMic() {
    const tr = localTrack('audio');
    if (!tr) return;
    st.micOn = !st.micOn;
    tr.enabled = st.micOn;
    refreshMediaButtons();
    setStatus(t(st.micOn ? 'RoomMicOnStatus' : 'RoomMicOffStatus'));
  }

  function toggleCamera() {
    const tr = localTrack('video');
    if (!tr) return;
    st.camOn = !st.camOn;
    tr.enabled = st.camOn;
    refreshMediaButtons();
    setStatus(t(st.camOn ? 'RoomCamOnStatus' : 'RoomCamOffStatus'));
  }

  function onMuted() {
    const tr = localTrack('audio');
    if (tr) tr.enabled = false;
    st.micOn = false;
    refreshMediaButtons();
    setStatus(t('RoomMuted'));
  }

  // ---------------------------------------------------------------- poor link

  const STATS_EVERY = 2000;
  const LOSS_LIMIT = 0.1;
  const FRAMELESS_LIMIT = 10000;

  function startStats() {
    stopStats();
    st.stats.last = null;
    st.stats.lossWindow = [];
    st.stats.lastFrameAt = Date.now();
    st.stats.timer = setInterval(checkLink, STATS_EVERY);
  }

  function stopStats() {
    clearInterval(st.stats.timer);
    st.stats.timer = 0;
  }

  async function checkLink() {
    const pc = st.pcs.down;
    if (!pc || !st.joined) return;
    let report;
    try { report = await pc.getStats(); } catch (e) { return; }
    const now = readInbound(report);
    const s = st.stats;
    const prev = s.last;
    s.last = now;
    if (!prev) return;
    const lost = Math.max(0, now.lost - prev.lost);
    const received = Math.max(0, now.received - prev.received);
    s.lossWindow.push({ lost: lost, received: received });
    if (s.lossWindow.length > 3) s.lossWindow.shift(); // about 6 s
    if (now.frames > s.lastFrames) s.lastFrameAt = Date.now();
    s.lastFrames = now.frames;
    if (linkIsPoor()) offerAudioOnly();
  }

  function readInbound(report) {
    const sum = { lost: 0, received: 0, frames: 0 };
    report.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      sum.lost += r.packetsLost || 0;
      sum.received += r.packetsReceived || 0;
      if (r.kind === 'video') sum.frames += r.framesDecoded || 0;
    });
    return sum;
  }

  function linkIsPoor() {
    const s = st.stats;
    let lost = 0;
    let received = 0;
    s.lossWindow.forEach((w) => { lost += w.lost; received += w.received; });
    const total = lost + received;
    const lossy = s.lossWindow.length >= 2 && total >= 50 && lost / total > LOSS_LIMIT;
    const videoExpected = !st.audioOnly && videoTracks.some((tr) => tr.readyState === 'live');
    const frozen = videoExpected && Date.now() - s.lastFrameAt > FRAMELESS_LIMIT;
    return lossy || frozen;
  }

  function offerAudioOnly() {
    if (st.audioOnly || !el.poorLink.hidden || Date.now() < st.stats.snoozeUntil) return;
    show(el.poorLink, true);
  }

  function dismissPoorLink() {
    show(el.poorLink, false);
    st.stats.snoozeUntil = Date.now() + 5 * 60 * 1000;
    st.stats.lastFrameAt = Date.now();
    el.hand.focus();
  }

  // ---------------------------------------------------------------- wiring

  function wire() {
    el.testDevices.addEventListener('click', togglePreview);
    el.joinForm.addEventListener('submit', onJoinSubmit);
    el.hand.addEventListener('click', toggleHand);
    el.mic.addEventListener('click', toggleMic);
    el.camera.addEventListener('click', toggleCamera);
    el.audioOnlyButton.addEventListener('click', () => setAudioOnly(!st.audioOnly));
    el.poorLinkAudioOnly.addEventListener('click', () => { setAudioOnly(true); el.audioOnlyButton.focus(); });
    el.poorLinkDismiss.addEventListener('click', dismissPoorLink);
    el.tapToHear.addEventListener('click', tapToHear);
    el.leave.addEventListener('click', leave);
    if (el.end) el.end.addEventListener('click', endRoom);
    el.chatForm.addEventListener('submit', onChatSubmit);
    el.chatLog.addEventListener('click', onChatLogClick);
    el.participants.addEventListener('click', onParticipantAction);
    window.addEventListener('pagehide', () => {
      if (st.wsOpen && st.joined) { send({ type: 'leave' }); st.closing = true; }
    });
  }

  function exposeTestHook() {
    const copy = (p) => ({
      id: p.id, name: p.name, role: p.role, hand: !!p.hand, audio: !!p.audio, video: !!p.video,
      speaking: !!p.speaking, chatMuted: !!p.chatMuted, connected: p.connected !== false, self: !!p.self,
    });
    const pcs = Object.create(null);
    Object.defineProperty(pcs, 'up', { get: () => st.pcs.up, enumerable: true });
    Object.defineProperty(pcs, 'down', { get: () => st.pcs.down, enumerable: true });
    Object.defineProperty(window, 'portaloRoom', {
      value: Object.freeze({
        state: () => ({
          joined: st.joined,
          participants: Array.from(st.participants.values(), copy),
          chatCount: chatCount(),
          handRaised: st.handRaised,
          removed: st.removed,
          ended: st.ended,
          wsOpen: st.wsOpen,
        }),
        pcs: Object.freeze(pcs),
      }),
      writable: false,
      configurable: false,
    });
  }

  exposeTestHook();
  if (!supported()) {
    lobbyMessage(t('RoomUnsupported'));
    el.joinButton.disabled = true;
    el.testDevices.disabled = true;
    return;
  }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) show(el.testDevices, false);
  wire();
  el.joinButton.disabled = false; // ready: the page's HTML keeps it off until here
})();
