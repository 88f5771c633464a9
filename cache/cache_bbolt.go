// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

const (
	bcFieldPath               = "path"
	bcFieldBucket             = "bucket"
	bcFieldDefaultTTL         = "default_ttl"
	bcFieldLockTimeout        = "lock_timeout"
	bcFieldCompactionInterval = "compaction_interval"
)

func bboltCacheSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Stores key/value pairs in a local, crash-safe embedded database file (bbolt).").
		Description(`
This is the cache to use for the `+"`checkpoint_cache`"+` of the `+"`duo_admin_logs`"+` input when duostream runs on a single node.

Every `+"`set`, `add` and `delete`"+` is its own committed transaction that has been flushed to disk with fsync before the call returns, so a value that the cache acknowledged survives the process being killed and, as far as the disk honours fsync, a power loss. The file format keeps two copies of its root page, so a write torn by a crash leaves the previous committed state readable: reopening the file never yields an empty or half-written value.

The file is locked while the cache is open, and only one cache may hold it. A second duostream process, or a cache resource of another stream of this one, that opens the same file fails at once (after `+"`lock_timeout`"+`, half a second by default) with an error naming the file, instead of corrupting it or waiting for the first to stop: give each process its own file. To run several processes on one set of positions, one standing by for another, use the `+"`redis`"+` cache with the `+"`lease`"+` block of the `+"`duo_admin_logs`"+` input instead. `+"`duostream check`"+` opens the file read-only; while a pipeline holds it, the check reports the positions as not read and carries on.

Values may carry a time to live. An expired value reads as missing at once, and expired values are removed from the file every `+"`compaction_interval`"+`.`).
		Fields(
			service.NewStringField(bcFieldPath).
				Description("The database file. Missing parent directories are created with mode 0700 and a new file with mode 0600. One process at a time: opening a file that another duostream process (or another stream of this one) holds fails at once, so give each process its own file, or use the `redis` cache with the input's `lease` block to run several on one set of positions.").
				Example("/var/lib/duostream/state.db"),
			service.NewStringField(bcFieldBucket).
				Description("The bucket (key namespace) inside the file that holds this cache's keys. The file is locked by one cache resource at a time, so give each cache resource its own file.").
				Default("duostream").
				Advanced(),
			service.NewDurationField(bcFieldDefaultTTL).
				Description("The time to live of values written without an explicit TTL. When absent, values never expire, which is what a checkpoint needs.").
				Example("24h").
				Optional().
				Advanced(),
			service.NewDurationField(bcFieldLockTimeout).
				Description("How long to wait for the file lock held by another process or cache resource before failing. It is short so that a second process fails at once rather than standing by: the lock is released only when the holder stops.").
				Default("500ms").
				Advanced(),
			service.NewDurationField(bcFieldCompactionInterval).
				Description("How often expired values are removed from the file. Set to an empty string to never remove them (they still read as missing once expired).").
				Default("60s").
				Advanced(),
		).
		Example(
			"Durable checkpoint for the Duo log input",
			"Keep the `duo_admin_logs` cursor in a file on a persistent volume, so a restart carries on where the last acknowledged batch ended.",
			`
cache_resources:
  - label: duo_checkpoints
    bbolt:
      path: /var/lib/duostream/checkpoints.db

input:
  duo_admin_logs:
    # Credentials and the other input fields are omitted here.
    checkpoint_cache: duo_checkpoints
`)
}

func init() {
	service.MustRegisterCache("bbolt", bboltCacheSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
		return newBboltCacheFromParsed(conf, mgr.Logger())
	})
}

// bboltValueVersion is the first byte of every stored value: the layout of
// the header that follows it.
const bboltValueVersion byte = 1

// bboltHeaderLen is the size of the value header: the version byte and the
// expiry as big-endian Unix nanoseconds (zero for none).
const bboltHeaderLen = 1 + 8

// bboltCache is a service.Cache kept in a bbolt file. All methods are safe
// for concurrent use; writes are serialised by bbolt.
type bboltCache struct {
	db         *bolt.DB
	bucket     []byte
	defaultTTL time.Duration
	log        *service.Logger
	now        func() time.Time

	closeOnce sync.Once
	stop      chan struct{}
	sweeperWG sync.WaitGroup
}

func newBboltCacheFromParsed(conf *service.ParsedConfig, log *service.Logger) (*bboltCache, error) {
	path, err := conf.FieldString(bcFieldPath)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("field %s: must not be empty", bcFieldPath)
	}
	bucket, err := conf.FieldString(bcFieldBucket)
	if err != nil {
		return nil, err
	}
	if bucket == "" {
		return nil, fmt.Errorf("field %s: must not be empty", bcFieldBucket)
	}
	var defaultTTL time.Duration
	if conf.Contains(bcFieldDefaultTTL) {
		if defaultTTL, err = conf.FieldDuration(bcFieldDefaultTTL); err != nil {
			return nil, err
		}
		if defaultTTL < 0 {
			return nil, fmt.Errorf("field %s: must not be negative, got %s", bcFieldDefaultTTL, defaultTTL)
		}
	}
	lockTimeout, err := conf.FieldDuration(bcFieldLockTimeout)
	if err != nil {
		return nil, err
	}
	if lockTimeout <= 0 {
		return nil, fmt.Errorf("field %s: must be positive, got %s", bcFieldLockTimeout, lockTimeout)
	}
	var compaction time.Duration
	if s, _ := conf.FieldString(bcFieldCompactionInterval); s != "" {
		if compaction, err = conf.FieldDuration(bcFieldCompactionInterval); err != nil {
			return nil, err
		}
		if compaction <= 0 {
			return nil, fmt.Errorf("field %s: must be positive or empty, got %s", bcFieldCompactionInterval, compaction)
		}
	}
	return openBboltCache(path, bucket, defaultTTL, lockTimeout, compaction, log)
}

// openBboltCache opens (creating if needed) the database file at path and
// the bucket inside it. A compaction interval of zero disables the sweeper.
func openBboltCache(path, bucket string, defaultTTL, lockTimeout, compaction time.Duration, log *service.Logger) (*bboltCache, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory for bbolt cache %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, lockedError(path, lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open bbolt cache %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(bucket))
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create bucket %q in bbolt cache %s: %w", bucket, path, err)
	}
	c := &bboltCache{
		db:         db,
		bucket:     []byte(bucket),
		defaultTTL: defaultTTL,
		log:        log,
		now:        time.Now,
		stop:       make(chan struct{}),
	}
	if compaction > 0 {
		c.sweeperWG.Add(1)
		go c.sweepLoop(compaction)
	}
	return c, nil
}

// lockedError is the error of an open that found path locked after waiting
// lockTimeout. It wraps ErrLocked, names the field and the file, and says
// what to do, since the usual cause is two processes given one config.
func lockedError(path string, lockTimeout time.Duration) error {
	return fmt.Errorf("field %s: open bbolt cache %s: %w, or by a cache resource of another stream of this one (waited %s): "+
		"only one may use a bbolt file at a time, so give each duostream process its own file; "+
		"to run several processes on one set of positions, use a redis cache as checkpoint_cache with the duo_admin_logs input's lease block",
		bcFieldPath, path, ErrLocked, lockTimeout)
}

// encode prefixes value with the header for the given TTL.
func (c *bboltCache) encode(value []byte, ttl *time.Duration) []byte {
	d := c.defaultTTL
	if ttl != nil {
		d = *ttl
	}
	var expiry int64
	if d > 0 {
		expiry = c.now().Add(d).UnixNano()
	}
	buf := make([]byte, bboltHeaderLen+len(value))
	buf[0] = bboltValueVersion
	binary.BigEndian.PutUint64(buf[1:bboltHeaderLen], uint64(expiry))
	copy(buf[bboltHeaderLen:], value)
	return buf
}

// decode splits a stored value into its payload and whether it is still
// live at now. The payload aliases raw.
func decodeBboltValue(raw []byte, now time.Time) (value []byte, live bool, err error) {
	if len(raw) < bboltHeaderLen || raw[0] != bboltValueVersion {
		return nil, false, fmt.Errorf("stored value is not in bbolt cache format (%d bytes)", len(raw))
	}
	expiry := int64(binary.BigEndian.Uint64(raw[1:bboltHeaderLen]))
	if expiry != 0 && now.UnixNano() >= expiry {
		return nil, false, nil
	}
	return raw[bboltHeaderLen:], true, nil
}

// Get returns the value of key, or service.ErrKeyNotFound when it is absent
// or expired.
func (c *bboltCache) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := c.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = getLive(tx.Bucket(c.bucket), key, c.now())
		return err
	})
	return out, err
}

// getLive returns a copy of the value of key in b that has not expired at
// now, or service.ErrKeyNotFound.
func getLive(b *bolt.Bucket, key string, now time.Time) ([]byte, error) {
	raw := b.Get([]byte(key))
	if raw == nil {
		return nil, service.ErrKeyNotFound
	}
	value, live, err := decodeBboltValue(raw, now)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if !live {
		return nil, service.ErrKeyNotFound
	}
	// bbolt memory is only valid inside the transaction.
	return append([]byte(nil), value...), nil
}

// Set writes key and returns once the transaction is committed and synced.
func (c *bboltCache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	return c.SetMulti(ctx, service.CacheItem{Key: key, Value: value, TTL: ttl})
}

// SetMulti writes all items in one committed, synced transaction: either all
// of them are stored or none is.
func (c *bboltCache) SetMulti(ctx context.Context, items ...service.CacheItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateBboltKeys(items); err != nil {
		return err
	}
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket)
		for _, it := range items {
			if err := b.Put([]byte(it.Key), c.encode(it.Value, it.TTL)); err != nil {
				return fmt.Errorf("set %q: %w", it.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bbolt cache: %w", err)
	}
	return nil
}

// Add writes key only when it is absent (or expired), otherwise it returns
// service.ErrKeyAlreadyExists.
func (c *bboltCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateBboltKeys([]service.CacheItem{{Key: key}}); err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket)
		if raw := b.Get([]byte(key)); raw != nil {
			// A value in a foreign format still occupies the key.
			if _, live, err := decodeBboltValue(raw, c.now()); err != nil || live {
				return service.ErrKeyAlreadyExists
			}
		}
		if err := b.Put([]byte(key), c.encode(value, ttl)); err != nil {
			return fmt.Errorf("bbolt cache: add %q: %w", key, err)
		}
		return nil
	})
}

// Delete removes key. Deleting an absent key is not an error.
func (c *bboltCache) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return nil
	}
	if err := c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(c.bucket).Delete([]byte(key))
	}); err != nil {
		return fmt.Errorf("bbolt cache: delete %q: %w", key, err)
	}
	return nil
}

// Close stops the sweeper and closes the file, releasing its lock.
func (c *bboltCache) Close(context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.stop)
		c.sweeperWG.Wait()
		err = c.db.Close()
	})
	return err
}

func validateBboltKeys(items []service.CacheItem) error {
	for _, it := range items {
		if it.Key == "" {
			return errors.New("bbolt cache: key must not be empty")
		}
		if len(it.Key) > bolt.MaxKeySize {
			return fmt.Errorf("bbolt cache: key of %d bytes is longer than the limit of %d", len(it.Key), bolt.MaxKeySize)
		}
	}
	return nil
}

func (c *bboltCache) sweepLoop(every time.Duration) {
	defer c.sweeperWG.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			n, err := c.sweep()
			if err != nil {
				c.log.Errorf("Failed to remove expired values from bbolt cache: %v", err)
			} else if n > 0 {
				c.log.Debugf("Removed %d expired values from bbolt cache", n)
			}
		}
	}
}

// sweep removes expired values and returns how many it removed. It scans in
// a read transaction first so that an idle cache never writes to disk.
func (c *bboltCache) sweep() (int, error) {
	now := c.now()
	var expired [][]byte
	if err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(c.bucket).ForEach(func(k, v []byte) error {
			if _, live, err := decodeBboltValue(v, now); err == nil && !live {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
	}); err != nil || len(expired) == 0 {
		return 0, err
	}
	removed := 0
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(c.bucket)
		for _, k := range expired {
			// Re-check: the key may have been rewritten since the scan.
			if _, live, err := decodeBboltValue(b.Get(k), now); err != nil || live {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	return removed, err
}
