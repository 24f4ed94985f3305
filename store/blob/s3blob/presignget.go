package s3blob

import (
	"context"
	"fmt"
	"time"

	"portalo/store/blob"
)

// PresignGet returns a URL that lets whoever holds it GET (with Range) the
// object at key for expiry, without credentials: the bucket stays private
// and a web server can send viewers straight to it. The URL is signed
// locally; only the first call may ask the server for the bucket's region.
// expiry must be between one second and seven days (S3's limits). The
// object need not exist: a GET on the URL then answers 404.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("s3blob: presign %q: %w", key, blob.ErrInvalidKey)
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", fmt.Errorf("s3blob: presign %q: expiry %v is outside 1s to 7 days", key, expiry)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, nil)
	if err != nil {
		return "", s.objectError("presign", key, err)
	}
	return u.String(), nil
}
