// Package processing owns turning an item's uploaded source into the files
// viewers stream: it is the glue between the upload, the job queue
// (package jobs), ffmpeg (package transcode), the object store and the
// catalog. It knows nothing of HTTP.
//
// # Flow
//
// When an upload is complete the web layer calls OnUpload (or Start for a
// source). Start records the source in the catalog, sets the item to
// processing and enqueues a job of kind Kind. A jobs.Worker running
// Handlers then, for that job:
//
//  1. streams the source, the further language versions' sound files and
//     the WebVTT subtitles from the object store into a fresh temporary
//     directory (never whole in memory);
//  2. runs transcode.Probe and transcode.HLS, reporting progress to the job
//     (editors see it through Progress);
//  3. streams every produced file to media/ITEMID/out/RUN/..., segments and
//     other files first, media playlists next, the master playlist last;
//  4. replaces the item's output files with the new ones in one
//     catalog.SetFiles, all marked complete, with the duration and the
//     poster, and sets the status back to draft (ready to publish);
//  5. deletes the files of earlier runs.
//
// On failure nothing of the run is listed in the catalog, its uploaded
// files are deleted, the item is set to failed with a reason a person
// understands (the job fails with the same reason), and Retry (or
// jobs.Retry with the job's ID: the handler sets processing again) runs it
// once more. A published item stays published while it is processed again
// (a subtitle added, say): viewers keep the old files until the new ones
// are complete, and a failure leaves it as it was (the reason is the
// job's).
//
// # What the catalog lists (the convention)
//
// Sources are catalog files with role catalog.RoleSource, one per language
// version: the main source (pictures and their own sound; for a podcast
// episode the sound) in the version of its language, and each further
// language version's sound file (an audio file, or a video whose first
// audio stream is used) in the version of its language. The main source is
// the one Start was given (kept in the job); Retry without a job takes the
// source of the version in the item's first title language. Subtitles are
// the catalog's Subtitles: language → key of an uploaded WebVTT file; they
// stay listed as uploaded (for players that take a WebVTT track) and become
// HLS subtitle renditions. An uploaded poster (a key under
// media/ITEMID/source/) is kept; otherwise the poster is the frame HLS
// takes.
//
// Processing lists per audio language version: the shared master playlist
// (catalog.RoleMaster: every version names the same one, the player picks
// the sound by language), the video renditions' playlists
// (catalog.RoleRendition), the version's own audio playlists
// (catalog.RoleAudio) and its downloads (catalog.RoleDownload: MP4 and
// M4A). Segments and subtitle renditions are not listed: the playlists
// refer to them, a playlist is complete only with everything it refers to,
// and playlists are uploaded after what they refer to. Sound in a language the catalog does not
// know (a source file tagged French) is played in the main version.
//
// # Runs and safety
//
// Jobs run at least once, and a new upload supersedes the item's earlier
// job (Start cancels it). Each run writes under its own prefix,
// media/ITEMID/out/JOBID-ATTEMPT/, so files that viewers cache as immutable
// never change under their key, a duplicated run never overwrites what
// another run listed, and a run that is stopped or superseded removes
// only its own files. The kv.Store holds, per item, the latest job
// ("processing:item:ITEMID"); a run whose job is older than that one lists
// nothing and leaves the status alone. Before uploading, and again when
// listing, a run checks that the item still exists: when it was deleted
// meanwhile the run deletes what it uploaded, so no file is orphaned.
//
// SeedDemo fills an empty catalog with three small demo items made with
// ffmpeg (see demo.go).
package processing
