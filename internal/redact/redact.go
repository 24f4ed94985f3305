// Package redact removes network addresses from log text that portalo
// does not write itself (net/http's and Pion's own messages), so that logs
// never hold participants' IP addresses.
package redact

import "regexp"

// addr matches IPv4 and IPv6 addresses, with or without a port.
var addr = regexp.MustCompile(`\[?[0-9a-fA-F:.]{3,}\]?:\d+|\b\d{1,3}(\.\d{1,3}){3}\b|\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{0,4}\b`)

// Addresses replaces every IP address (and port) in s with "[address]".
func Addresses(s string) string { return addr.ReplaceAllString(s, "[address]") }
