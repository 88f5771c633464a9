// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is the error, wrapped, of a read-only bbolt cache whose file
// another process holds open for writing, such as a running duostream.
var ErrLocked = errors.New("the file is locked by another process, such as a running duostream")

// errReadOnly refuses every write to a read-only bbolt cache.
var errReadOnly = errors.New("bbolt cache: opened read-only, for reading positions only")

// ReadOnly returns a clone of env whose bbolt cache only ever reads, for
// commands that must not change what pipelines stored, such as `duostream
// check`: it takes the same config, opens an existing file read-only,
// never creates a file, a directory or a bucket, never removes expired
// values, and refuses every write. A file or bucket that does not exist
// reads as empty.
//
// A read-only open takes a shared lock on the file: it coexists with other
// read-only opens, but not with a writer. While a pipeline holds the file,
// the open fails with ErrLocked after lock_timeout (half a second by
// default) rather than waiting for the pipeline to stop, so that `duostream
// check` run next to a running pipeline reports its positions as not read
// and carries on with its other checks. The other way round, a pipeline
// that starts while a check holds the shared lock fails after its own
// lock_timeout; checks hold it only while they run.
func ReadOnly(env *service.Environment) (*service.Environment, error) {
	ro := env.Clone()
	err := ro.RegisterCache("bbolt", bboltCacheSpec(), func(conf *service.ParsedConfig, _ *service.Resources) (service.Cache, error) {
		return newReadOnlyBboltFromParsed(conf)
	})
	if err != nil {
		return nil, err
	}
	return ro, nil
}

// readOnlyBbolt is a bbolt cache that only reads; db is nil when the file
// does not exist.
type readOnlyBbolt struct {
	db     *bolt.DB
	bucket []byte
	now    func() time.Time
}

func newReadOnlyBboltFromParsed(conf *service.ParsedConfig) (*readOnlyBbolt, error) {
	path, err := conf.FieldString(bcFieldPath)
	if err != nil {
		return nil, err
	}
	bucket, err := conf.FieldString(bcFieldBucket)
	if err != nil {
		return nil, err
	}
	lockTimeout, err := conf.FieldDuration(bcFieldLockTimeout)
	if err != nil {
		return nil, err
	}
	return openReadOnlyBbolt(path, bucket, lockTimeout)
}

// openReadOnlyBbolt opens the file at path read-only, or, when there is no
// such file, a cache that holds nothing.
func openReadOnlyBbolt(path, bucket string, lockTimeout time.Duration) (*readOnlyBbolt, error) {
	c := &readOnlyBbolt{bucket: []byte(bucket), now: time.Now}
	if path == "" {
		return nil, fmt.Errorf("field %s: must not be empty", bcFieldPath)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open bbolt cache %s read-only: %w (waited %s)", path, ErrLocked, lockTimeout)
	case err != nil:
		return nil, fmt.Errorf("open bbolt cache %s read-only: %w", path, err)
	}
	c.db = db
	return c, nil
}

// Get returns the value of key, or service.ErrKeyNotFound when it is absent
// or expired.
func (c *readOnlyBbolt) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.db == nil {
		return nil, service.ErrKeyNotFound
	}
	var out []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket)
		if b == nil {
			return service.ErrKeyNotFound
		}
		var err error
		out, err = getLive(b, key, c.now())
		return err
	})
	return out, err
}

// Set refuses: the cache only reads.
func (c *readOnlyBbolt) Set(context.Context, string, []byte, *time.Duration) error {
	return errReadOnly
}

// Add refuses: the cache only reads.
func (c *readOnlyBbolt) Add(context.Context, string, []byte, *time.Duration) error {
	return errReadOnly
}

// Delete refuses: the cache only reads.
func (c *readOnlyBbolt) Delete(context.Context, string) error {
	return errReadOnly
}

// Close closes the file, releasing its shared lock.
func (c *readOnlyBbolt) Close(context.Context) error {
	if c.db == nil {
		return nil
	}
	return c.db.Close()
}
