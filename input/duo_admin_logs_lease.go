// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/lease"
)

// InstanceEnv names the environment variable that sets this process's
// instance ID, in its leases and the User-Agent of its Duo requests.
const InstanceEnv = "DUOSTREAM_INSTANCE_ID"

// instanceLease is the name of the one lease of an input without
// accounts.discover, which covers all its log types.
const instanceLease = "input"

// parseLease reads the lease block: the label of the lease cache ("" for no
// leases) and the TTL. The lease cache must be the checkpoint cache, so that
// a position is written in the Redis that holds its lease.
func parseLease(conf *service.ParsedConfig, checkpointCache string, bounded bool) (string, time.Duration, error) {
	label, err := conf.FieldString(dalFieldLease, dalFieldLeaseCache)
	if err != nil {
		return "", 0, err
	}
	ttl, err := conf.FieldDuration(dalFieldLease, dalFieldLeaseTTL)
	if err != nil {
		return "", 0, err
	}
	if label = strings.TrimSpace(label); label == "" {
		return "", 0, nil
	}
	switch {
	case label != checkpointCache:
		return "", 0, fmt.Errorf("field %s.%s: %q is not the checkpoint_cache %q; set both to the same redis cache, so that each position write is checked against its lease in one step", dalFieldLease, dalFieldLeaseCache, label, checkpointCache)
	case ttl < lease.MinTTL:
		return "", 0, fmt.Errorf("field %s.%s: %s is shorter than %s", dalFieldLease, dalFieldLeaseTTL, ttl, lease.MinTTL)
	case bounded:
		return "", 0, fmt.Errorf("field %s.%s: a replay with %s reads every stream in one process; remove the lease block from the replay's config", dalFieldLease, dalFieldLeaseCache, dalFieldEndTime)
	}
	return label, ttl, nil
}

// instanceID names this process: DUOSTREAM_INSTANCE_ID, or
// "<hostname>-<pid>".
func instanceID() string {
	if id := strings.TrimSpace(os.Getenv(InstanceEnv)); id != "" {
		return id
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "duostream"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// userAgent is the User-Agent of this process's Duo requests.
func userAgent(version, instance string) string {
	if version == "" {
		version = "dev"
	}
	return fmt.Sprintf("duostream/%s (%s)", version, instance)
}

// leasedStreams shares an input's streams with the other processes of its
// config through leases in its checkpoint cache's Redis: it is the Puller's
// Ownership and the lease Manager's Observer, and writes positions fenced
// by their lease.
type leasedStreams struct {
	in        *duoAdminLogsInput
	manager   *lease.Manager
	redis     *cache.SharedRedis
	perStream bool // with accounts.discover: a lease per (account, log type)

	// holder names this input in the leases: the instance and the
	// input's number in the process.
	holder string

	cancel context.CancelFunc
	done   chan struct{}
}

// leaseHolders numbers the inputs of this process that take part in leases.
var leaseHolders atomic.Int64

// startLeases joins the processes sharing in's streams: it finds the lease
// cache's Redis and starts taking part in the leases. The Puller pulls only
// what they give this process.
func (in *duoAdminLogsInput) startLeases(ctx context.Context) error {
	shared, err := cache.LookupRedis(ctx, in.res, in.leaseCache)
	if err != nil {
		return fmt.Errorf("field %s.%s: %w; leases need a redis cache resource", dalFieldLease, dalFieldLeaseCache, err)
	}
	if shared.Cluster {
		return fmt.Errorf("field %s.%s: cache %q is a Redis Cluster, which may keep a lease and its positions on different shards; use kind simple or failover", dalFieldLease, dalFieldLeaseCache, in.leaseCache)
	}
	l := &leasedStreams{in: in, redis: shared, perStream: in.accounts != nil}
	// Several inputs of one process (streams mode) are holders of their
	// own, whatever their config, and so are two processes given the same
	// DUOSTREAM_INSTANCE_ID by mistake: a random part tells them apart.
	var nonce [3]byte
	_, _ = rand.Read(nonce[:])
	l.holder = fmt.Sprintf("%s/%d-%s", in.instance, leaseHolders.Add(1), hex.EncodeToString(nonce[:]))
	l.manager, err = lease.New(lease.Config{
		Client:   shared.Client,
		Prefix:   shared.Prefix + in.positions.prefix + KeySeparator,
		TTL:      in.leaseTTL,
		Instance: l.holder,
		Observer: l,
	})
	if err != nil {
		return fmt.Errorf("field %s: %w", dalFieldLease, err)
	}
	for _, r := range lease.Reasons {
		in.metrics.leaseStepDowns.Incr(0, string(r))
	}
	in.metrics.leaseTakeovers.Incr(0)
	in.metrics.streamsOwned.Set(0)
	if !l.perStream {
		l.manager.SetStreams([]string{instanceLease})
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		l.manager.Run(runCtx)
	}()
	// The puller pulls only what the leases give, the observer shares the
	// child accounts' streams, and positions are written fenced.
	in.leases = l
	in.pullerCfg.Ownership = l
	in.obs.leases = l
	in.positions.fence = l.write
	in.log.Infof("Sharing the Duo streams of this input with the other processes of its config as %s, through leases of %s in cache %q", l.holder, in.leaseTTL, in.leaseCache)
	return nil
}

// name returns the lease that covers s.
func (l *leasedStreams) name(s duoapi.StreamKey) string {
	if !l.perStream {
		return instanceLease
	}
	return s.AccountID + KeySeparator + string(s.LogType)
}

// streamsOf returns the streams that lease name covers.
func (l *leasedStreams) streamsOf(name string) []duoapi.StreamKey {
	if !l.perStream {
		keys := make([]duoapi.StreamKey, len(l.in.pullerCfg.LogTypes))
		for i, t := range l.in.pullerCfg.LogTypes {
			keys[i] = duoapi.StreamKey{LogType: t}
		}
		return keys
	}
	id, t, _ := strings.Cut(name, KeySeparator)
	return []duoapi.StreamKey{{AccountID: id, LogType: duoapi.LogType(t)}}
}

// describe names lease name for log lines.
func (l *leasedStreams) describe(name string) string {
	if !l.perStream {
		return "logs of this input"
	}
	k := l.streamsOf(name)[0]
	if st := l.in.stream(k); st != nil {
		return st.stream.String() + " logs"
	}
	return fmt.Sprintf("%s logs of child account %s", k.LogType, k.AccountID)
}

// setAccounts shares the streams of the child accounts pulled now.
func (l *leasedStreams) setAccounts(accounts []duoapi.Account) {
	names := make([]string, 0, len(accounts)*len(l.in.pullerCfg.LogTypes))
	for _, a := range accounts {
		for _, t := range l.in.pullerCfg.LogTypes {
			names = append(names, l.name(duoapi.StreamKey{AccountID: a.ID, LogType: t}))
		}
	}
	l.manager.SetStreams(names)
	l.manager.Kick()
}

// Owns reports whether this process holds the lease of s.
func (l *leasedStreams) Owns(s duoapi.Stream) (string, bool) {
	return l.manager.Owns(l.name(s.Key()))
}

// Resume reads where s continues at the start of a tenure: the position its
// last owner stored.
func (l *leasedStreams) Resume(ctx context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
	return l.in.startStream(ctx, s)
}

// Acquired logs a stream taken and lets its drop-off alarm run.
func (l *leasedStreams) Acquired(name, previous string) {
	l.in.metrics.leaseTakeovers.Incr(1)
	for _, k := range l.streamsOf(name) {
		l.in.alarm.activate(k)
	}
	from := "no process held it before"
	switch {
	case previous == l.holder:
		from = "this input held it before"
	case previous != "":
		from = "instance " + previous + " held it last"
	}
	l.in.log.Infof("Took over Duo %s (%s): pulling from the stored position", l.describe(name), from)
}

// Lost logs a stream given up and keeps its drop-off alarm quiet: the new
// owner watches it.
func (l *leasedStreams) Lost(name string, reason lease.Reason, err error) {
	l.in.metrics.leaseStepDowns.Incr(1, string(reason))
	for _, k := range l.streamsOf(name) {
		l.in.alarm.standby(k)
	}
	why := map[lease.Reason]string{
		lease.Expired:    fmt.Sprintf("its lease could not be renewed within the lease ttl of %s (Redis unreachable, or this process was paused)", l.in.leaseTTL),
		lease.Fenced:     "another process holds its lease now (this process was paused or cut off past the lease ttl)",
		lease.Rebalanced: "handed over so that the streams spread over the processes that run",
	}[reason]
	if err != nil {
		why += ": " + err.Error()
	}
	l.in.log.Warnf("Stepped down from Duo %s: %s. Events read but not yet stored are read again by the next owner", l.describe(name), why)
}

// Owned sets duo_streams_owned.
func (l *leasedStreams) Owned(n int) {
	if l.perStream {
		l.in.metrics.streamsOwned.Set(int64(n))
		return
	}
	l.in.metrics.streamsOwned.Set(int64(n * len(l.in.pullerCfg.LogTypes)))
}

// write stores value at the checkpoint cache's key, only while tenure is
// the current lease of k.
func (l *leasedStreams) write(ctx context.Context, k duoapi.StreamKey, tenure, key string, value []byte) error {
	return l.manager.Set(ctx, l.name(k), tenure, l.redis.Prefix+key, value, positionTTL)
}

// stop leaves the leases to the other processes, so that they take over at
// once rather than after the ttl.
func (l *leasedStreams) stop() {
	l.cancel()
	<-l.done
}

// notOwner reports whether err is a position write refused by its lease.
func notOwner(err error) bool { return errors.Is(err, lease.ErrNotOwner) }
