package mcpserver

import (
	"github.com/mark3labs/mcp-go/server"
)

// sessions hands out session ids like mcp-go's stateless manager, so any
// replica can serve any request, and also accepts requests that carry none:
// Herald keeps no per-session state, and batch elements, conformance probes
// and clients that skip the header must not be refused for it.
type sessions struct {
	server.StatelessGeneratingSessionIdManager
}

func (s *sessions) Validate(id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	return s.StatelessGeneratingSessionIdManager.Validate(id)
}
