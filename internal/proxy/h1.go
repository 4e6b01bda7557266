package proxy

import (
	"bytes"
	"unsafe"
)

// This file parses HTTP/1.1 heads for the fast path (fast.go). It is pure:
// bytes in, a description out, no I/O. It is deliberately narrow: a
// request it is not sure about is marked slow, and net/http's server,
// which has every rule of RFC 9112, takes the connection from there. That
// is how request smuggling is kept out: the fast path forwards only
// requests framed by one valid Content-Length, or by none, and never one
// with Transfer-Encoding; FuzzRequestHead checks it against net/http.

// headerKind says what the fast path does with a header it forwards.
type headerKind uint8

const (
	hdrPlain     headerKind = iota // passed on as it came
	hdrHop                         // hop-by-hop: never passed on
	hdrXFF                         // X-Forwarded-For: believed only from trusted proxies
	hdrXFHost                      // X-Forwarded-Host: ditto
	hdrXFProto                     // X-Forwarded-Proto: ditto
	hdrForwarded                   // Forwarded: ditto
	hdrRequestID                   // X-Request-Id: teal sets its own
	hdrHost                        // Host: passed on
	hdrCookie                      // Cookie: passed on, read for preview and sticky routing
)

// h1Header is one header line of a head, as slices of the buffer it was
// read from.
type h1Header struct {
	name, value []byte
	line        []byte // the whole line with its CRLF, to pass it on as it came
	kind        headerKind
}

// maxHeaders bounds the header lines of a head on the fast path; a
// request with more takes net/http's path.
const maxHeaders = 64

// h1Request is a parsed request head. Its slices point into the buffer
// it was parsed from, and are valid only as long as that is.
type h1Request struct {
	method, target, path []byte
	host                 []byte
	contentLength        int64 // -1: none given
	close                bool  // Connection: close
	hasCookie            bool
	headers              []h1Header
	// slow names why the request must take net/http's path; "" when the
	// fast path may forward it.
	slow string
}

// Reasons a request takes net/http's path. Each is a rule the fast path
// leaves to net/http rather than implement a second time.
const (
	slowTooLarge = "head larger than the fast path's buffer"
	slowBodyMax  = "body over the load balancer's limit" // net/http answers 413 without a reset
	slowSyntax   = "not plainly HTTP/1.1"                // net/http answers it, 400 or otherwise
	slowFraming  = "Transfer-Encoding or an unusual Content-Length"
	slowUpgrade  = "upgrade, Expect or TE"
	slowConnHdr  = "Connection names other headers"
	slowTarget   = "request target not a plain path"
	slowTooMany  = "too many headers"
	slowRouting  = "preview, sticky, paused or in maintenance"
	slowHTTP2    = "HTTP/2 with prior knowledge"
	slowUnrouted = "no route" // net/http answers 404 the same way
)

// parseRequestHead parses the request head at the start of buf into r,
// whose headers slice is reused. It returns the head's length, or 0 when
// buf does not yet hold a whole head. A head the fast path will not
// forward is returned with r.slow set.
func parseRequestHead(buf []byte, r *h1Request) int {
	*r = h1Request{headers: r.headers[:0], contentLength: -1}
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		if bareLF(buf) {
			r.slow = slowSyntax
			return len(buf)
		}
		return 0
	}
	n := end + 4
	head := buf[:end+2] // every line with its CRLF
	if bareLF(head) {
		r.slow = slowSyntax
		return n
	}
	line, rest := cutLine(head)
	if !parseRequestLine(line, r) {
		return n
	}
	for len(rest) > 0 {
		var raw []byte
		raw, rest = cutLineRaw(rest)
		h, ok := parseHeaderLine(raw)
		if !ok {
			r.slow = slowSyntax
			return n
		}
		if len(r.headers) == maxHeaders {
			r.slow = slowTooMany
			return n
		}
		if !classifyRequestHeader(&h, r) {
			return n
		}
		r.headers = append(r.headers, h)
	}
	if r.host == nil {
		r.slow = slowSyntax // HTTP/1.1 requires Host; net/http answers 400
	}
	return n
}

var crlfcrlf = []byte("\r\n\r\n")

// bareLF reports whether b has a line feed without a carriage return
// before it, which the fast path leaves to net/http.
func bareLF(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		i += j + 1
	}
}

// cutLine returns the first line of b without its CRLF, and the rest.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	return b[:i-1], b[i+1:]
}

// cutLineRaw returns the first line of b with its CRLF, and the rest.
func cutLineRaw(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	return b[:i+1], b[i+1:]
}

func parseRequestLine(line []byte, r *h1Request) bool {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		r.slow = slowSyntax
		return false
	}
	r.method = line[:sp]
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || string(rest[sp+1:]) != "HTTP/1.1" {
		r.slow = slowSyntax
		if string(r.method) == "PRI" {
			r.slow = slowHTTP2
		}
		return false
	}
	r.target = rest[:sp]
	for _, c := range r.method {
		if !isTokenChar(c) {
			r.slow = slowSyntax
			return false
		}
	}
	if string(r.method) == "CONNECT" || r.target[0] != '/' {
		r.slow = slowTarget
		return false
	}
	for _, c := range r.target {
		// '%' would make the path net/http routes on differ from the
		// raw one; '#' and anything outside visible ASCII is unusual.
		if c <= ' ' || c >= 0x7f || c == '%' || c == '#' {
			r.slow = slowTarget
			return false
		}
	}
	r.path = r.target
	if q := bytes.IndexByte(r.target, '?'); q >= 0 {
		r.path = r.target[:q]
	}
	return true
}

// parseHeaderLine splits "Name: value\r\n". Obsolete line folding, a name
// that is not a token, and control characters in a value all fail.
func parseHeaderLine(raw []byte) (h1Header, bool) {
	if len(raw) < 3 || raw[len(raw)-2] != '\r' {
		return h1Header{}, false
	}
	colon := bytes.IndexByte(raw, ':')
	if colon <= 0 {
		return h1Header{}, false
	}
	name := raw[:colon]
	for _, c := range name {
		if !isTokenChar(c) {
			return h1Header{}, false
		}
	}
	value := raw[colon+1 : len(raw)-2]
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return h1Header{}, false
		}
	}
	return h1Header{name: name, value: trimOWS(value), line: raw}, true
}

// classifyRequestHeader notes what the fast path needs of a header and
// reports false when the request must take net/http's path.
func classifyRequestHeader(h *h1Header, r *h1Request) bool {
	switch {
	case equalFold(h.name, "host"):
		if r.host != nil || !validHost(h.value) {
			r.slow = slowSyntax
			return false
		}
		r.host, h.kind = h.value, hdrHost
	case equalFold(h.name, "content-length"):
		n, ok := parseContentLength(h.value)
		if !ok || r.contentLength >= 0 {
			r.slow = slowFraming
			return false
		}
		r.contentLength = n
	case equalFold(h.name, "transfer-encoding"):
		r.slow = slowFraming
		return false
	case equalFold(h.name, "connection"):
		close, others := connectionTokens(h.value)
		if others {
			r.slow = slowConnHdr
			return false
		}
		r.close = r.close || close
		h.kind = hdrHop
	case equalFold(h.name, "upgrade"), equalFold(h.name, "expect"), equalFold(h.name, "te"),
		equalFold(h.name, "trailer"), equalFold(h.name, "http2-settings"):
		r.slow = slowUpgrade
		return false
	case equalFold(h.name, "keep-alive"), equalFold(h.name, "proxy-connection"),
		equalFold(h.name, "proxy-authorization"), equalFold(h.name, "proxy-authenticate"):
		h.kind = hdrHop
	case equalFold(h.name, "x-forwarded-for"):
		h.kind = hdrXFF
	case equalFold(h.name, "x-forwarded-host"):
		h.kind = hdrXFHost
	case equalFold(h.name, "x-forwarded-proto"):
		h.kind = hdrXFProto
	case equalFold(h.name, "forwarded"):
		h.kind = hdrForwarded
	case equalFold(h.name, "x-request-id"):
		h.kind = hdrRequestID
	case equalFold(h.name, "cookie"):
		h.kind = hdrCookie
		r.hasCookie = true
	}
	return true
}

// connectionTokens reads a Connection header: whether it says close, and
// whether it names anything but close and keep-alive.
func connectionTokens(v []byte) (close, others bool) {
	for len(v) > 0 {
		var tok []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tok, v = trimOWS(v[:i]), v[i+1:]
		} else {
			tok, v = trimOWS(v), nil
		}
		switch {
		case len(tok) == 0:
		case equalFold(tok, "close"):
			close = true
		case equalFold(tok, "keep-alive"):
		default:
			others = true
		}
	}
	return close, others
}

// h1Response is a parsed response head, pointing into its buffer.
type h1Response struct {
	status        int
	reason        []byte
	contentLength int64 // -1: none given
	chunked       bool  // Transfer-Encoding: chunked
	untilClose    bool  // no framing: the body ends when the connection does
	close         bool  // the instance will close the connection
	headers       []h1Header
}

// parseResponseHead parses the response head at the start of buf. It
// returns the head's length, 0 when buf does not hold a whole head yet,
// or -1 when the head is malformed or ambiguously framed (the instance
// gets the blame: 502).
func parseResponseHead(buf []byte, r *h1Response) int {
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		if bareLF(buf) {
			return -1
		}
		return 0
	}
	*r = h1Response{headers: r.headers[:0], contentLength: -1}
	head := buf[:end+2]
	if bareLF(head) {
		return -1
	}
	line, rest := cutLine(head)
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (line[7] != '1' && line[7] != '0') {
		return -1
	}
	r.close = line[7] == '0'
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return -1
		}
	}
	r.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	if r.status < 100 {
		return -1
	}
	http10 := line[7] == '0'
	if len(line) > 12 {
		if line[12] != ' ' {
			return -1
		}
		r.reason = line[13:]
	}
	var named [][]byte // headers the Connection header names: hop-by-hop
	var te []byte
	for len(rest) > 0 {
		var raw []byte
		raw, rest = cutLineRaw(rest)
		h, ok := parseHeaderLine(raw)
		if !ok || len(r.headers) == maxHeaders*2 {
			return -1
		}
		switch {
		case equalFold(h.name, "content-length"):
			n, ok := parseContentLength(h.value)
			if !ok || (r.contentLength >= 0 && n != r.contentLength) {
				return -1
			}
			r.contentLength, h.kind = n, hdrHop // written again by the fast path
		case equalFold(h.name, "transfer-encoding"):
			if te != nil {
				return -1
			}
			te, h.kind = h.value, hdrHop
		case equalFold(h.name, "connection"):
			h.kind = hdrHop
			for v := h.value; len(v) > 0; {
				var tok []byte
				if i := bytes.IndexByte(v, ','); i >= 0 {
					tok, v = trimOWS(v[:i]), v[i+1:]
				} else {
					tok, v = trimOWS(v), nil
				}
				switch {
				case equalFold(tok, "close"):
					r.close = true
				case equalFold(tok, "keep-alive"):
					r.close = false
				case len(tok) > 0:
					named = append(named, tok)
				}
			}
		case equalFold(h.name, "keep-alive"), equalFold(h.name, "proxy-connection"), equalFold(h.name, "upgrade"):
			h.kind = hdrHop
		}
		r.headers = append(r.headers, h)
	}
	for i := range r.headers {
		for _, n := range named {
			if bytes.EqualFold(r.headers[i].name, n) {
				r.headers[i].kind = hdrHop
			}
		}
	}
	switch {
	case te != nil && http10:
		return -1 // HTTP/1.0 has no Transfer-Encoding: ambiguous
	case te != nil && equalFold(te, "chunked"):
		r.chunked = true
		r.contentLength = -1 // Transfer-Encoding wins (RFC 9112 6.3)
	case te != nil:
		return -1 // an encoding teal would have to undo: refuse, as ambiguous
	case r.contentLength < 0:
		r.untilClose = true
	}
	return end + 4
}

// bodiless reports whether a response to method with status has no body
// whatever its headers say.
func bodiless(method []byte, status int) bool {
	return status < 200 || status == 204 || status == 304 || string(method) == "HEAD"
}

// parseContentLength accepts what RFC 9110 allows: digits only.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseChunkSize reads a chunk-size line ("1a;ext=x\r\n").
func parseChunkSize(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with a lower-case ASCII string, ignoring case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may appear in a token (RFC 9110 5.6.2).
func isTokenChar(c byte) bool {
	if c >= 0x80 {
		return false
	}
	return tokenChars[c]
}

var tokenChars = func() (t [128]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validHost accepts the characters a host and port are made of; anything
// else goes to net/http, which decides.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_':
		default:
			return false
		}
	}
	return true
}

// bstr views b as a string without copying. The string must not be kept
// past the life of b's buffer: the fast path uses it only to look routes
// up while the request head is still in its buffer.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
