// Package store is the root of portalo's storage layer: keyed state lives in
// store/kv, files and media in store/blob. Each has two implementations (an
// embedded one for a single machine with nothing installed, and a server one
// shared by several nodes) and one contract test suite run against both.
package store
