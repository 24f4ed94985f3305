// portalo – the mediathek's player.
//
// Plays the item's HLS master playlist (#player[data-src]) in the page's
// <video>: with the browser's own HLS player where it has one that can
// also switch the sound's language (Safari, iOS), else with hls.js
// (/static/vendor/hls.min.js, loaded only then), starting at the lowest
// rendition and never above what the player's size needs. Nothing is
// downloaded before "play" is pressed.
//
// The form under the video chooses the language version and the
// subtitles. Without JavaScript it reloads the page with ?version= and
// ?subtitles=; here a choice applies at once: the sound switches to
// another audio track of the same presentation (or another presentation,
// at the same time), the subtitles to another track. The status line
// below the video (role=status) tells screen readers what happened.
(function () {
  'use strict';

  var root = document.getElementById('player');
  var video = document.getElementById('media-video');
  if (!root || !video) {
    return;
  }
  var form = document.getElementById('player-form');
  var versionSel = document.getElementById('player-version');
  var subSel = document.getElementById('player-subtitles');
  var applyBtn = document.getElementById('player-apply');
  var statusEl = document.getElementById('player-status');
  var strings = {};
  try {
    strings = JSON.parse(root.getAttribute('data-strings') || '{}');
  } catch (e) {
    strings = {};
  }

  var src = root.getAttribute('data-src');
  var hls = null;
  var started = false; // loading began (play was pressed)
  var mediaRecoveries = 0;

  function say(text) {
    if (statusEl) {
      statusEl.textContent = text || '';
    }
  }

  function langOf(tag) {
    return String(tag || '').toLowerCase().split('-')[0];
  }

  function selectedOption(sel) {
    return sel ? sel.options[sel.selectedIndex] : null;
  }

  function wantedVersion() {
    return versionSel ? versionSel.value : '';
  }

  function wantedSubtitles() {
    return subSel ? subSel.value : 'off';
  }

  function versionSource() {
    var o = selectedOption(versionSel);
    return (o && o.getAttribute('data-src')) || src;
  }

  // The subtitle tracks of <track> elements the page itself carries (the
  // ones that are no rendition of the HLS presentation).
  function pageTracks() {
    var out = [];
    var nodes = video.querySelectorAll('track[data-vtt]');
    for (var i = 0; i < nodes.length; i++) {
      out.push(nodes[i].track);
    }
    return out;
  }

  // The sound in lang: an audio track of the presentation. Returns false
  // when it has none in lang.
  function applyAudio(lang) {
    if (!lang) {
      return true;
    }
    if (hls) {
      var tracks = hls.audioTracks || [];
      for (var i = 0; i < tracks.length; i++) {
        if (langOf(tracks[i].lang) === lang) {
          if (hls.audioTrack !== i) {
            hls.audioTrack = i;
          }
          return true;
        }
      }
      return false;
    }
    var at = video.audioTracks;
    if (!at) {
      return false;
    }
    var found = -1;
    for (var j = 0; j < at.length; j++) {
      if (found < 0 && langOf(at[j].language) === lang) {
        found = j;
      }
    }
    if (found < 0) {
      return false;
    }
    for (j = 0; j < at.length; j++) {
      at[j].enabled = j === found;
    }
    root.setAttribute('data-audio-lang', lang);
    return true;
  }

  // Subtitles in lang ("off": none): a subtitle rendition of the
  // presentation, else a <track> of the page. hls.js follows the modes of
  // the text tracks it made (it reads them when they change), so they are
  // set too, not only its subtitleTrack.
  function applySubtitles(lang) {
    var want = null; // the hls.js track to show
    if (hls) {
      var st = hls.subtitleTracks || [];
      var idx = -1;
      for (var i = 0; i < st.length; i++) {
        if (lang !== 'off' && langOf(st[i].lang) === lang) {
          idx = i;
          break;
        }
      }
      hls.subtitleDisplay = idx >= 0;
      if (hls.subtitleTrack !== idx) {
        hls.subtitleTrack = idx;
      }
      want = idx >= 0 ? st[idx] : null;
    }
    var own = pageTracks();
    var shown = false;
    var all = video.textTracks;
    for (var j = 0; j < all.length; j++) {
      var t = all[j];
      if (t.kind !== 'subtitles' && t.kind !== 'captions') {
        continue;
      }
      var on;
      if (hls && own.indexOf(t) < 0) {
        // A track of hls.js.
        on = !!want && !shown && langOf(t.language) === langOf(want.lang) && (!want.name || t.label === want.name);
      } else {
        on = !want && !shown && lang !== 'off' && langOf(t.language) === lang;
      }
      if (t.mode !== (on ? 'showing' : 'disabled')) {
        t.mode = on ? 'showing' : 'disabled';
      }
      shown = shown || on;
    }
    return shown || !!want;
  }

  // remember puts the choices into the address, so that reloading or
  // sharing the page keeps them.
  function remember() {
    if (!window.history || !window.history.replaceState || !window.URLSearchParams) {
      return;
    }
    var params = new URLSearchParams(window.location.search);
    if (versionSel) {
      params.set('version', wantedVersion());
    }
    if (subSel) {
      params.set('subtitles', wantedSubtitles());
    }
    window.history.replaceState(null, '', window.location.pathname + '?' + params.toString());
  }

  // switchSource plays another presentation from where this one was.
  function switchSource(next) {
    var at = video.currentTime;
    var playing = !video.paused;
    src = next;
    if (hls) {
      hls.once(window.Hls.Events.MANIFEST_PARSED, function () {
        if (started) {
          hls.startLoad(at);
        }
        applyChoices();
      });
      hls.loadSource(src);
      return;
    }
    video.addEventListener('loadedmetadata', function once() {
      video.removeEventListener('loadedmetadata', once);
      if (at > 0) {
        video.currentTime = at;
      }
      applyChoices();
      if (playing) {
        video.play().catch(function () {});
      }
    });
    video.src = src;
    video.load();
  }

  function applyVersion() {
    var lang = wantedVersion();
    if (!lang) {
      return;
    }
    var next = versionSource();
    if (next && next !== src) {
      switchSource(next);
    } else {
      applyAudio(lang);
    }
  }

  function applyChoices() {
    applyAudio(wantedVersion());
    applySubtitles(wantedSubtitles());
  }

  function unsupported() {
    root.setAttribute('data-engine', 'none');
    say(strings.unsupported);
  }

  function failed() {
    say(strings.failed);
  }

  function startNative() {
    root.setAttribute('data-engine', 'native');
    video.addEventListener('loadedmetadata', applyChoices);
    if (video.audioTracks) {
      video.audioTracks.addEventListener('addtrack', function () {
        applyAudio(wantedVersion());
      });
    }
    video.textTracks.addEventListener('addtrack', function () {
      applySubtitles(wantedSubtitles());
    });
    video.addEventListener('error', failed);
    video.src = src;
    applySubtitles(wantedSubtitles());
    ready();
  }

  function startHls() {
    var Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
      unsupported();
      return;
    }
    root.setAttribute('data-engine', 'hls.js');
    hls = new Hls({
      startLevel: 0, // start low: most viewers are on a phone
      capLevelToPlayerSize: true,
      autoStartLoad: false, // nothing but the playlists before "play"
      workerPath: root.getAttribute('data-worker'),
      renderTextTracksNatively: true
    });
    hls.on(Hls.Events.MANIFEST_PARSED, applyChoices);
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, function () {
      applyAudio(wantedVersion());
    });
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, function (event, data) {
      var t = (hls.audioTracks || [])[data.id];
      if (t) {
        root.setAttribute('data-audio-lang', langOf(t.lang));
      }
    });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, function () {
      applySubtitles(wantedSubtitles());
    });
    video.textTracks.addEventListener('addtrack', function () {
      applySubtitles(wantedSubtitles());
    });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) {
        return;
      }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
        mediaRecoveries++;
        hls.recoverMediaError();
        return;
      }
      failed();
    });
    video.addEventListener('play', function () {
      if (!started && hls) {
        started = true;
        hls.startLoad(video.currentTime || -1);
      }
    });
    hls.attachMedia(video);
    hls.loadSource(src);
    applySubtitles(wantedSubtitles());
    ready();
  }

  // ready lets the form apply choices at once.
  function ready() {
    if (applyBtn) {
      applyBtn.hidden = true;
    }
    if (form) {
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        applyVersion();
        applySubtitles(wantedSubtitles());
        remember();
      });
    }
    if (versionSel) {
      versionSel.addEventListener('change', function () {
        applyVersion();
        remember();
        var o = selectedOption(versionSel);
        say(strings.language + ': ' + (o ? o.textContent : ''));
      });
    }
    if (subSel) {
      subSel.addEventListener('change', function () {
        applySubtitles(wantedSubtitles());
        remember();
        var o = selectedOption(subSel);
        say(wantedSubtitles() === 'off' ? strings.subtitleOff : strings.subtitles + ': ' + (o ? o.textContent : ''));
      });
    }
  }

  function loadScript(url, done) {
    var s = document.createElement('script');
    s.src = url;
    s.onload = done;
    s.onerror = unsupported;
    document.head.appendChild(s);
  }

  var mse = !!(window.ManagedMediaSource || window.MediaSource);
  // The browser's own HLS player where it plays HLS and either hls.js
  // could not run (no Media Source Extensions) or the page can switch its
  // audio tracks; else hls.js, which can switch everything.
  var native = video.canPlayType('application/vnd.apple.mpegurl') !== '' && (!mse || 'audioTracks' in video);
  if (native) {
    startNative();
  } else if (mse) {
    loadScript(root.getAttribute('data-hls'), startHls);
  } else {
    unsupported();
  }
}());
