// Command backend is the instance every participant of the benchmark
// forwards to: a minimal HTTP/1.1 server on raw connections that answers
// every request with the same small body, naming itself. It is written
// for speed, so that the proxies, not the backend, set the pace; it
// understands Content-Length request bodies, keep-alive, Connection: close
// and pipelining, and nothing else.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	name := fs.String("name", "backend", "name written at the start of every body")
	size := fs.Int("size", 64, "body size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String()) // the harness reads the address from here
	body := []byte(*name + "\n" + strings.Repeat("x", max(0, *size-len(*name)-2)) + "\n")
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	keep := []byte(head + "\r\n" + string(body))
	closing := []byte(head + "Connection: close\r\n\r\n" + string(body))
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serve(c, keep, closing)
	}
}

// serve answers the requests of one connection until the client closes it
// or asks to.
func serve(c net.Conn, keep, closing []byte) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16<<10)
	w := bufio.NewWriterSize(c, 16<<10)
	for {
		n, close, err := readRequest(r)
		if err != nil {
			return
		}
		if n > 0 {
			if _, err := r.Discard(int(n)); err != nil {
				return
			}
		}
		if close {
			w.Write(closing)
			w.Flush()
			return
		}
		w.Write(keep)
		if r.Buffered() == 0 { // answer pipelined requests in one write
			if w.Flush() != nil {
				return
			}
		}
	}
}

// readRequest reads one request head and returns its body's length and
// whether the client asked to close.
func readRequest(r *bufio.Reader) (length int64, close bool, err error) {
	first := true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if first {
			first = false
			close = bytes.HasSuffix(line, []byte("HTTP/1.0"))
			continue
		}
		if len(line) == 0 {
			return length, close, nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, io.ErrUnexpectedEOF
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, false, err
			}
		case bytes.EqualFold(k, []byte("Connection")):
			close = bytes.EqualFold(v, []byte("close"))
		}
	}
}
