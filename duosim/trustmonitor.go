// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"
)

// maxIssuedOffsets is how many Trust Monitor offsets the simulator
// remembers; when it has issued more, it forgets the older half, and a
// client that sends one of those gets the 400 of an offset never issued.
const maxIssuedOffsets = 10000

// issuedOffset is where a Trust Monitor offset resumes: strictly after the
// event at, which is the n-th event of its query.
type issuedOffset struct {
	after cursor
	n     int
}

// offsetRegistry remembers the Trust Monitor offsets the simulator gave out,
// each for one query (window and types), so that an offset is only accepted
// back with the query it was issued for.
type offsetRegistry struct {
	mu     sync.Mutex
	issued map[string]issuedOffset // by query key and token
	order  []string                // keys of issued, oldest first
}

func registryKey(query, token string) string { return query + "\x00" + token }

// lookup returns where the offset token of query resumes, if the simulator
// issued it.
func (r *offsetRegistry) lookup(query, token string) (issuedOffset, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	off, ok := r.issued[registryKey(query, token)]
	return off, ok
}

// issue records that token resumes query at off. A token issued again (the
// same page read twice) resumes at the latest position.
func (r *offsetRegistry) issue(query, token string, off issuedOffset) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.issued == nil {
		r.issued = make(map[string]issuedOffset)
	}
	key := registryKey(query, token)
	if _, ok := r.issued[key]; !ok {
		if len(r.order) >= maxIssuedOffsets {
			old := r.order[:maxIssuedOffsets/2]
			for _, k := range old {
				delete(r.issued, k)
			}
			n := copy(r.order, r.order[len(old):])
			clear(r.order[n:])
			r.order = r.order[:n]
		}
		r.order = append(r.order, key)
	}
	r.issued[key] = off
}

// trustMonitorToken returns the offset that resumes query after its n-th
// event, as it is written in a response: the number n, or with
// TrustMonitorStringOffsets a string token that no client can read a
// number from.
func (s *Sim) trustMonitorToken(query string, n int) (token string, encoded []byte) {
	if !s.tmStringOffsets {
		token = strconv.Itoa(n)
		return token, []byte(token)
	}
	h := fnv.New32a()
	h.Write([]byte(query))
	token = fmt.Sprintf("tm%d_%08x", n, h.Sum32())
	return token, strconv.AppendQuote(nil, token)
}

// pageTrustMonitor returns one page of the Trust Monitor endpoint: the
// available events of account a of the asked types whose surfaced_timestamp is in
// [mintime, maxtime], ordered by surfaced_timestamp then sekey, resuming
// strictly after the event the offset was issued at. metadata.next_offset
// is there while more events remain, and absent at the end. Each account
// accepts only the offsets issued for it.
func (s *Sim) pageTrustMonitor(a *accountStore, ep endpoint, v trustMonitorQuery, visible int64) reply {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := a.streams[ep.typ]
	lo := st.firstAtOrAfterMs(v.minMs)
	hi := max(st.firstAtOrAfterMs(min(v.maxMs+1, visible)), lo)
	query := v.key()

	start, n := lo, 0
	if v.offset != "" {
		off, ok := a.offsets.lookup(query, v.offset)
		if !ok {
			return errInvalid(errOffsetNotIssued).reply()
		}
		start, n = min(max(lo, st.firstAfter(off.after)), hi), off.n
	}
	var page []record
	i := start
	for ; i < hi && len(page) < v.limit; i++ {
		if v.matches(st.recs[i].kind) {
			page = append(page, st.recs[i])
		}
	}
	more := false
	for ; i < hi && !more; i++ {
		more = v.matches(st.recs[i].kind)
	}

	var next []byte // metadata.next_offset as written; none at the end
	if more {
		last := page[len(page)-1]
		n += len(page)
		token, encoded := s.trustMonitorToken(query, n)
		a.offsets.issue(query, token, issuedOffset{after: cursor{ms: last.ms, id: last.id}, n: n})
		next = encoded
	}
	body := pageBody(ep.records, page, false, func(b *bytes.Buffer) {
		if next != nil {
			b.WriteString(`"next_offset":`)
			b.Write(next)
		}
	})
	return reply{status: http.StatusOK, body: body}
}
