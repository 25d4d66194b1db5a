package ctct

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// newRequest builds one attempt's request with the Client's headers: the
// User-Agent, Accept, the body's Content-Type and the credentials.
func (c *Client) newRequest(ctx context.Context, method string, u *url.URL, body io.Reader, cl call) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", AtomMediaType)
	if body != nil {
		ct := cl.contentType
		if ct == "" {
			ct = AtomMediaType
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.authHeader != "" {
		req.Header.Set("Authorization", c.authHeader)
	}
	return req, nil
}

// tracedRequest builds one attempt's request (see newRequest) over body,
// nil for none. The flag it returns turns true once the transport has
// started writing the request, that is once it may have reached the
// server.
func (c *Client) tracedRequest(ctx context.Context, method string, u *url.URL, body []byte, cl call) (*http.Request, *atomic.Bool, error) {
	written := new(atomic.Bool)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { written.Store(true) },
		WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := c.newRequest(ctx, method, u, rd, cl)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	return req, written, nil
}

// sendStream makes one attempt of a streamed call. The timeout bounds the
// wait for the answer's headers; a 2xx body is returned open (it ends
// with ctx), any other answer is read (bounded) like send does.
func (c *Client) sendStream(ctx context.Context, method string, u *url.URL, body []byte, cl call) (*response, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	var stop func() bool
	if c.timeout > 0 {
		t := time.AfterFunc(c.timeout, func() { timedOut.Store(true); cancel() })
		stop = t.Stop
	}
	req, written, err := c.tracedRequest(ctx, method, u, body, cl)
	if err != nil {
		cancel()
		return nil, false, err
	}
	resp, err := c.hc.Do(req)
	if stop != nil && !stop() && timedOut.Load() {
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		return nil, written.Load(), context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, written.Load(), err
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		defer cancel()
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, true, err
		}
		return &response{status: resp.StatusCode, header: resp.Header, body: data}, true, nil
	}
	return &response{status: resp.StatusCode, header: resp.Header, stream: &cancelBody{ReadCloser: resp.Body, cancel: cancel}}, true, nil
}

// cancelBody is a streamed body that releases its context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	once   sync.Once
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.cancel)
	return err
}
