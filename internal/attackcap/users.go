package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// persona is a benign user of the API.
type persona struct {
	name    string
	id      int
	agent   string
	style   string // "json": JSON /auth/login; "form-api": form-encoded /auth/login; "web": GET+POST /login, /dashboard
	friends []int  // other users' ids this person looks at now and then
}

var personas = []persona{
	{"alice", 1, "ExampleApp/3.2.1 (iPhone; iOS 17.4; Scale/3.00)", "json", []int{2, 5}},
	{"bob", 2, "python-requests/2.31.0", "form-api", []int{1}},
	{"carol", 3, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "web", nil},
	{"erin", 5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "json", []int{1, 2, 3}},
}

func runUsers(args []string) error {
	fs := flag.NewFlagSet("users", flag.ExitOnError)
	server := fs.String("server", "", "`ADDR` (ip:port) of the API; requests carry Host: "+Host)
	ips := fs.String("ip", "", "comma-separated local `IPS`, one per user (alice, bob, carol, erin)")
	seed := fs.Uint64("seed", 1, "random seed for think times and typos")
	maxDur := fs.Duration("max", 10*time.Minute, "stop after this long even without a signal")
	fs.Parse(args)
	if *server == "" || *ips == "" {
		return errors.New("need -server and -ip")
	}
	local := strings.Split(*ips, ",")
	if len(local) < len(personas) {
		return fmt.Errorf("need %d local IPs, have %d", len(personas), len(local))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxDur)
	defer cancel()
	var wg sync.WaitGroup
	for i, p := range personas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUserClient(p, *server, local[i], rand.New(rand.NewPCG(*seed, uint64(i))))
			u.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

type userClient struct {
	p     persona
	hc    *http.Client
	rnd   *rand.Rand
	token string
	log   func(format string, args ...any)
}

func newUserClient(p persona, server, localIP string, rnd *rand.Rand) *userClient {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     20 * time.Second,
		DisableCompression:  true,
	}
	jar, _ := cookiejar.New(nil)
	return &userClient{
		p:   p,
		hc:  &http.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second},
		rnd: rnd,
		log: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s %-5s %s\n", time.Now().UTC().Format("15:04:05.000"), p.name, fmt.Sprintf(format, args...))
		},
	}
}

// think waits a human pause, false when told to stop.
func (u *userClient) think(ctx context.Context, lo, hi float64) bool {
	d := time.Duration((lo + u.rnd.Float64()*(hi-lo)) * float64(time.Second))
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func (u *userClient) run(ctx context.Context) {
	defer u.hc.CloseIdleConnections()
	if !u.think(ctx, 0.5, 4) {
		return
	}
	for {
		// Now and then a typo first, as people do.
		if u.rnd.IntN(6) == 0 {
			u.login(passwords[u.p.name] + "x")
			if !u.think(ctx, 2, 5) {
				return
			}
		}
		if !u.login(passwords[u.p.name]) {
			return
		}
		for range 3 + u.rnd.IntN(4) {
			if !u.think(ctx, 2, 7) {
				return
			}
			u.act()
		}
		if !u.think(ctx, 3, 8) {
			return
		}
		// The app restarts, the browser session ends: log in again.
		u.hc.CloseIdleConnections()
	}
}

func (u *userClient) do(method, path, contentType, body string) (int, []byte) {
	req, _ := http.NewRequest(method, "http://"+Host+path, strings.NewReader(body))
	if body == "" {
		req.Body = nil
	}
	req.Header.Set("User-Agent", u.p.agent)
	switch u.p.style {
	case "web":
		req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
		req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	default:
		req.Header.Set("Accept", "application/json")
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u.token != "" && strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		u.log("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	u.log("%s %s -> %d", method, path, resp.StatusCode)
	return resp.StatusCode, b
}

func (u *userClient) login(pass string) bool {
	switch u.p.style {
	case "web":
		u.do("GET", "/login", "", "")
		form := url.Values{"username": {u.p.name}, "password": {pass}}.Encode()
		// The client follows the 302 to /dashboard with the new cookie.
		st, _ := u.do("POST", "/login", "application/x-www-form-urlencoded", form)
		return st != 0
	case "form-api":
		form := url.Values{"username": {u.p.name}, "password": {pass}}.Encode()
		return u.apiLogin("application/x-www-form-urlencoded", form)
	default:
		b, _ := json.Marshal(map[string]string{"username": u.p.name, "password": pass})
		return u.apiLogin("application/json", string(b))
	}
}

func (u *userClient) apiLogin(ct, body string) bool {
	st, b := u.do("POST", "/auth/login", ct, body)
	if st == http.StatusOK {
		var r struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(b, &r)
		u.token = r.AccessToken
	}
	return st != 0
}

func (u *userClient) act() {
	if u.p.style == "web" {
		u.do("GET", "/dashboard", "", "")
		return
	}
	switch n := u.rnd.IntN(10); {
	case n < 4:
		u.do("GET", "/api/v1/me", "", "")
	case n < 8 || len(u.p.friends) == 0:
		u.do("GET", fmt.Sprintf("/api/v1/users/%d", u.p.id), "", "")
	default:
		u.do("GET", fmt.Sprintf("/api/v1/users/%d", u.p.friends[u.rnd.IntN(len(u.p.friends))]), "", "")
	}
}
