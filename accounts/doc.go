// Package accounts owns who someone is on portalo: registration with a
// pseudonym and a password, password hashing, roles and the approval of
// multipliers, server-side sessions, login rate limits, and a person's right
// to take their data with them and to be forgotten.
//
// It keeps as little personal data as the features need: a pseudonym, an
// optional e-mail address, a password hash, roles and a language. It never
// stores a client's IP address; rate limits key on a keyed hash of it.
package accounts
