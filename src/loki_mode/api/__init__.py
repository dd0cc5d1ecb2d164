"""HTTP and SSE: routes per spec tag, security and error middleware, the SSE writer."""
