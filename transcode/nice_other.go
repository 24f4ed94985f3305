//go:build !unix

package transcode

// lowerPriority does nothing where processes have no nice value.
func lowerPriority(int) {}
