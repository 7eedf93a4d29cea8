package registry

import (
	"hash/maphash"
	"math/bits"
)

// clientTree is a persistent hash array mapped trie of clients by id: an
// update copies only the path to the changed client (a handful of small
// nodes), so that a snapshot that differs from the previous one by a few
// clients is built in time proportional to those clients and shares the
// rest. Incremental sources (etcd) build their snapshots with it; a whole
// file is indexed by a Go map, built once per load and faster to read.
type clientTree struct {
	root *treeNode
}

// treeNode holds up to 32 slots, one per 5 bits of the hash at its depth,
// present as set in bitmap. Below the last 5-bit level, a node is a list of
// clients whose whole hashes collide, searched by id.
type treeNode struct {
	bitmap uint32
	slots  []treeSlot
	// owner is the builder allowed to change the node in place: a node is
	// shared once a snapshot holds it, and then copied on change.
	owner *treeBuilder
}

// treeSlot is a client or a deeper node.
type treeSlot struct {
	client *Client
	node   *treeNode
}

const (
	treeBits  = 5
	treeMask  = 1<<treeBits - 1
	treeDepth = 64 / treeBits // levels indexed by the hash; deeper is a collision list
)

// treeSeed is random per process, so that nobody can choose client ids
// whose hashes collide.
var treeSeed = maphash.MakeSeed()

func treeHash(id string) uint64 { return maphash.String(treeSeed, id) }

// get returns the client registered under id, or nil.
func (t clientTree) get(id string) *Client {
	n := t.root
	h := treeHash(id)
	for depth := 0; n != nil; depth++ {
		if depth >= treeDepth {
			for i := range n.slots {
				if n.slots[i].client.ID == id {
					return n.slots[i].client
				}
			}
			return nil
		}
		bit := uint32(1) << (h >> (depth * treeBits) & treeMask)
		if n.bitmap&bit == 0 {
			return nil
		}
		s := &n.slots[bits.OnesCount32(n.bitmap&(bit-1))]
		if s.node == nil {
			if s.client.ID == id {
				return s.client
			}
			return nil
		}
		n = s.node
	}
	return nil
}

// each calls f with every client, in no particular order.
func (t clientTree) each(f func(*Client)) {
	var walk func(n *treeNode)
	walk = func(n *treeNode) {
		for i := range n.slots {
			if s := &n.slots[i]; s.node != nil {
				walk(s.node)
			} else {
				f(s.client)
			}
		}
	}
	if t.root != nil {
		walk(t.root)
	}
}

// treeBuilder changes a tree: nodes it created are changed in place, the
// others (shared with earlier snapshots) are copied first. A builder is
// used by one goroutine and dropped once its tree is published.
type treeBuilder struct {
	tree clientTree
}

// put adds c or replaces the client of the same id, and returns the
// client replaced, or nil.
func (b *treeBuilder) put(c *Client) *Client {
	var old *Client
	b.tree.root = b.putIn(b.tree.root, c, treeHash(c.ID), 0, &old)
	return old
}

// remove deletes the client registered under id and returns it, or nil.
func (b *treeBuilder) remove(id string) *Client {
	var old *Client
	b.tree.root = b.removeIn(b.tree.root, id, treeHash(id), 0, &old)
	return old
}

// own returns n itself if the builder may change it, else a copy it may.
func (b *treeBuilder) own(n *treeNode, extra int) *treeNode {
	if n == nil {
		return &treeNode{owner: b, slots: make([]treeSlot, 0, 1+extra)}
	}
	if n.owner == b {
		return n
	}
	c := &treeNode{bitmap: n.bitmap, owner: b, slots: make([]treeSlot, len(n.slots), len(n.slots)+extra)}
	copy(c.slots, n.slots)
	return c
}

func (b *treeBuilder) putIn(n *treeNode, c *Client, h uint64, depth int, old **Client) *treeNode {
	if depth >= treeDepth {
		n = b.own(n, 1)
		for i := range n.slots {
			if n.slots[i].client.ID == c.ID {
				*old = n.slots[i].client
				n.slots[i].client = c
				return n
			}
		}
		n.slots = append(n.slots, treeSlot{client: c})
		return n
	}
	bit := uint32(1) << (h >> (depth * treeBits) & treeMask)
	i := 0
	if n != nil {
		i = bits.OnesCount32(n.bitmap & (bit - 1))
	}
	if n == nil || n.bitmap&bit == 0 {
		n = b.own(n, 1)
		n.bitmap |= bit
		n.slots = append(n.slots, treeSlot{})
		copy(n.slots[i+1:], n.slots[i:])
		n.slots[i] = treeSlot{client: c}
		return n
	}
	s := n.slots[i]
	switch {
	case s.node != nil:
		s = treeSlot{node: b.putIn(s.node, c, h, depth+1, old)}
	case s.client.ID == c.ID:
		*old = s.client
		s = treeSlot{client: c}
	default:
		// Two clients share this slot: push both one level down.
		sub := b.putIn(nil, s.client, treeHash(s.client.ID), depth+1, old)
		s = treeSlot{node: b.putIn(sub, c, h, depth+1, old)}
	}
	n = b.own(n, 0)
	n.slots[i] = s
	return n
}

func (b *treeBuilder) removeIn(n *treeNode, id string, h uint64, depth int, old **Client) *treeNode {
	if n == nil {
		return nil
	}
	if depth >= treeDepth {
		for i := range n.slots {
			if n.slots[i].client.ID == id {
				*old = n.slots[i].client
				n = b.own(n, 0)
				n.slots = append(n.slots[:i], n.slots[i+1:]...)
				break
			}
		}
		if len(n.slots) == 0 {
			return nil
		}
		return n
	}
	bit := uint32(1) << (h >> (depth * treeBits) & treeMask)
	if n.bitmap&bit == 0 {
		return n
	}
	i := bits.OnesCount32(n.bitmap & (bit - 1))
	s := n.slots[i]
	switch {
	case s.node != nil:
		sub := b.removeIn(s.node, id, h, depth+1, old)
		if sub == s.node {
			return n
		}
		if sub != nil && len(sub.slots) == 1 && sub.slots[0].node == nil {
			s = treeSlot{client: sub.slots[0].client} // pull a lone client up
		} else {
			s = treeSlot{node: sub}
		}
		if s.node != nil || s.client != nil {
			n = b.own(n, 0)
			n.slots[i] = s
			return n
		}
	case s.client.ID != id:
		return n
	default:
		*old = s.client
	}
	n = b.own(n, 0)
	n.bitmap &^= bit
	n.slots = append(n.slots[:i], n.slots[i+1:]...)
	if len(n.slots) == 0 {
		return nil
	}
	return n
}
