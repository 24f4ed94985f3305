// Package transcode owns turning a source media file into what viewers
// stream and download: Probe reads a file's duration and streams with
// ffprobe, and HLS writes an adaptive HLS presentation (an H.264 ladder
// with aligned keyframes, AAC language versions, an audio-only rendition,
// WebVTT subtitle renditions, a master playlist), a poster and downloads
// with ffmpeg. Both are Debian's packages, found on PATH.
//
// Subtitle renditions come from the job's WebVTT or SubRip files and from
// the source's own text subtitle streams (SubRip, ASS, mov_text, WebVTT),
// which HLS extracts to WebVTT and validates like files. A file wins over
// the streams in its language, and of several streams in one language the
// first that is not forced is used. Streams without a language, image-based
// ones (DVD, PGS, DVB) and broken ones never fail the job: HLS leaves them
// out and says why in Result.Notes.
//
// It works on local files and directories only and knows nothing of HTTP,
// the catalog or the object store: the caller fetches the upload to a
// local file, runs HLS (usually from a job of package jobs) and stores the
// files HLS lists in its Result.
//
// Uploaded files are untrusted: ffmpeg and ffprobe read them through the
// file protocol only and with an allowlist of container formats, so a
// playlist or concat script disguised as a video cannot make them read
// other files or the network, and the demuxer ffprobe chose is the one
// ffmpeg uses.
package transcode
