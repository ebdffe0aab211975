package tiktok

import (
	"testing"

	"github.com/herald-dev/herald/internal/publish/rules"
)

// TestChunks cuts files as TikTok's upload rules say: up to one chunk
// whole, then 64 MB chunks whose count is the size divided by the chunk,
// rounded down, so the last takes the rest (at most 128 MB).
func TestChunks(t *testing.T) {
	for _, c := range []struct{ size, chunk, count int64 }{
		{3 * rules.MB, 3 * rules.MB, 1},
		{64 * rules.MB, 64 * rules.MB, 1},
		{127 * rules.MB, 64 * rules.MB, 1},
		{200 * rules.MB, 64 * rules.MB, 3},
		{4 * rules.GB, 64 * rules.MB, 62},
	} {
		chunk, count := chunks(c.size)
		if chunk != c.chunk || count != c.count {
			t.Errorf("chunks(%d) = %d, %d; want %d, %d", c.size, chunk, count, c.chunk, c.count)
		}
		if last := c.size - (count-1)*chunk; last > 128*rules.MB || last < chunk && count > 1 {
			t.Errorf("chunks(%d): the last chunk has %d bytes", c.size, last)
		}
	}
}
