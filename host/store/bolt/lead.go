package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/weirhq/weir/host/store"
)

// bktLeaders is the pipeline sub-bucket of source leaderships: source →
// format byte, token (8 bytes BE), lease expiry (8 bytes BE, unix ns),
// owner. Pipelines created before leadership existed get it on first use.
var bktLeaders = []byte("leaders")

// leader is a source's leadership as stored.
type leader struct {
	token uint64
	exp   int64
	owner string
}

func (l *leader) encode() []byte {
	b := make([]byte, 17, 17+len(l.owner))
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:], l.token)
	binary.BigEndian.PutUint64(b[9:], uint64(l.exp))
	return append(b, l.owner...)
}

func decodeLeader(b []byte) (leader, bool, error) {
	if b == nil {
		return leader{}, false, nil
	}
	if len(b) < 17 || b[0] != formatV1 {
		return leader{}, false, errCorrupt
	}
	return leader{
		token: binary.BigEndian.Uint64(b[1:]),
		exp:   int64(binary.BigEndian.Uint64(b[9:])),
		owner: string(b[17:]),
	}, true, nil
}

// currentLeader returns the leadership of a source; ok is false if nobody
// ever led it.
func (p *pipe) currentLeader(source string) (leader, bool, error) {
	b := p.b.Bucket(bktLeaders)
	if b == nil {
		return leader{}, false, nil
	}
	return decodeLeader(b.Get([]byte(source)))
}

// checkToken fails with ErrNotLeader unless token is the source's current
// leadership token.
func (p *pipe) checkToken(pipeline, source string, token uint64) error {
	l, ok, err := p.currentLeader(source)
	if err != nil {
		return err
	}
	if !ok || l.token != token {
		return fmt.Errorf("%w: checkpoint token %d for source %q of pipeline %q is not the current leadership token", store.ErrNotLeader, token, source, pipeline)
	}
	return nil
}

// Lead implements store.Leadership.
func (s *Store) Lead(ctx context.Context, pipeline, source, owner string, ttl time.Duration) (uint64, error) {
	if err := checkName("pipeline", pipeline); err != nil {
		return 0, err
	}
	if err := checkName("source", source); err != nil {
		return 0, err
	}
	if err := checkName("leader owner", owner); err != nil {
		return 0, err
	}
	if ttl <= 0 {
		return 0, store.Invalid("leadership ttl %s is not positive", ttl)
	}
	var token uint64
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		token = 0
		p, err := openPipe(tx, pipeline, true)
		if err != nil {
			return err
		}
		b, err := p.b.CreateBucketIfNotExists(bktLeaders)
		if err != nil {
			return err
		}
		now := nanos(s.now())
		cur, ok, err := decodeLeader(b.Get([]byte(source)))
		if err != nil {
			return err
		}
		next := leader{token: 1, owner: owner, exp: addNanos(now, ttl)}
		if ok {
			switch {
			case cur.exp > now && cur.owner != owner:
				return fmt.Errorf("%w: source %q of pipeline %q is led by %q until %s", store.ErrNotLeader,
					source, pipeline, cur.owner, timeOf(cur.exp).UTC().Format(time.RFC3339Nano))
			case cur.exp > now:
				next.token = cur.token // renewal within the term
			default:
				next.token = cur.token + 1 // a new term
			}
		}
		token = next.token
		return b.Put([]byte(source), next.encode())
	})
	if err != nil {
		return 0, err
	}
	return token, nil
}

// Ping implements store.Store: nil unless the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}
