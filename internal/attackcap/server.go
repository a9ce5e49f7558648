package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// User is one object of GET /api/v1/users/{id}.
type User struct {
	ID        int    `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
	CreatedAt string `json:"created_at"`
}

// people are the API's 50 users, ids 1..50 in order.
var people = [...][2]string{
	{"alice", "Alice Nguyen"}, {"bob", "Bob Martin"}, {"carol", "Carol Diaz"}, {"dave", "Dave Okafor"},
	{"erin", "Erin Walsh"}, {"frank", "Frank Moreau"}, {"grace", "Grace Lindqvist"}, {"heidi", "Heidi Braun"},
	{"ivan", "Ivan Petrov"}, {"judy", "Judy Kim"}, {"ken", "Ken Watanabe"}, {"laura", "Laura Rossi"},
	{"mike", "Mike Novak"}, {"nina", "Nina Horvat"}, {"oscar", "Oscar Silva"}, {"peggy", "Peggy Carter"},
	{"quinn", "Quinn Murphy"}, {"rupert", "Rupert Hale"}, {"sybil", "Sybil Grant"}, {"trent", "Trent Fischer"},
	{"ursula", "Ursula Berg"}, {"victor", "Victor Ionescu"}, {"walter", "Walter Shaw"}, {"xena", "Xena Papadopoulos"},
	{"yusuf", "Yusuf Demir"}, {"zoe", "Zoe Adams"}, {"aaron", "Aaron Levi"}, {"bella", "Bella Costa"},
	{"chen", "Chen Wei"}, {"diego", "Diego Alvarez"}, {"eva", "Eva Novotna"}, {"farid", "Farid Haddad"},
	{"gita", "Gita Sharma"}, {"hugo", "Hugo Lambert"}, {"iris", "Iris Jansen"}, {"jamal", "Jamal Wright"},
	{"kira", "Kira Sato"}, {"liam", "Liam O'Brien"}, {"maya", "Maya Cohen"}, {"noah", "Noah Becker"},
	{"olga", "Olga Smirnova"}, {"mallory", "Mallory Quint"}, {"pablo", "Pablo Ruiz"}, {"rosa", "Rosa Mendes"},
	{"sam", "Sam Taylor"}, {"tara", "Tara Singh"}, {"uma", "Uma Patel"}, {"vera", "Vera Lind"},
	{"wes", "Wes Turner"}, {"yara", "Yara Haddad"},
}

// passwords are the accounts that can log in (the other users exist as
// objects only). The script's word lists are built around them: dave's is
// in the stuffing list, frank's near the end of the brute-force list,
// mallory is the attacker's own account.
var passwords = map[string]string{
	"alice":   "Tr0ub4dor&3",
	"bob":     "bob-likes-pizza-7",
	"carol":   "C4rol!garden",
	"dave":    "Summer2024!",
	"erin":    "erin#2291x",
	"frank":   "dragon1985",
	"mallory": "mallory-owns-this-1",
}

func userByID(id int) (User, bool) {
	if id < 1 || id > len(people) {
		return User{}, false
	}
	p := people[id-1]
	first, last, _ := strings.Cut(p[1], " ")
	last = strings.ReplaceAll(last, "'", "")
	return User{
		ID:        id,
		Username:  p[0],
		Name:      p[1],
		Email:     strings.ToLower(first+"."+last) + "@example.test",
		Phone:     fmt.Sprintf("+1-202-555-%04d", 100+id),
		CreatedAt: time.Date(2023, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, 7*id).Format(time.RFC3339),
	}, true
}

func userByName(name string) (User, bool) {
	for i, p := range people {
		if p[0] == name {
			return userByID(i + 1)
		}
	}
	return User{}, false
}

type server struct {
	key        []byte // signs tokens
	failStatus int    // status of a failed POST /auth/login

	mu       sync.Mutex
	sessions map[string]int // session cookie → user id
	logw     io.Writer
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "`ADDR` to listen on")
	logPath := fs.String("log", "", "append one JSON line per request to `FILE`")
	failStatus := fs.Int("login-fail-status", http.StatusUnauthorized,
		"`STATUS` of a failed POST /auth/login (hydra 9.4's http-post-form cannot go past a 401: give it 403)")
	fs.Parse(args)

	s := &server{key: make([]byte, 32), failStatus: *failStatus, sessions: map[string]int{}, logw: io.Discard}
	rand.Read(s.key)
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		s.logw = f
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          log.New(os.Stderr, "server: ", 0),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "server: listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", s.apiLogin)
	mux.HandleFunc("GET /auth/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	})
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.formLogin)
	mux.HandleFunc("GET /dashboard", s.dashboard)
	mux.HandleFunc("GET /api/v1/me", s.me)
	mux.HandleFunc("GET /api/v1/users/{id}", s.user)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	return s.logged(mux)
}

// logEntry is one line of the server's log.
type logEntry struct {
	Time     time.Time `json:"time"`
	Remote   string    `json:"remote"`
	Method   string    `json:"method"`
	Host     string    `json:"host"`
	Path     string    `json:"path"`
	Status   int       `json:"status"`
	Username string    `json:"username,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Agent    string    `json:"user_agent,omitempty"`
}

type recorder struct {
	http.ResponseWriter
	status int
	entry  *logEntry
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

type entryKey struct{}

func (s *server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &logEntry{Time: time.Now().UTC(), Remote: r.RemoteAddr, Method: r.Method, Host: r.Host, Path: r.URL.Path, Agent: r.UserAgent()}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, entry: e}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), entryKey{}, e)))
		e.Status = rec.status
		b, _ := json.Marshal(e)
		s.mu.Lock()
		s.logw.Write(append(b, '\n'))
		s.mu.Unlock()
	})
}

func noteLogin(r *http.Request, user string, ok bool) {
	if e, _ := r.Context().Value(entryKey{}).(*logEntry); e != nil {
		e.Username, e.Outcome = user, "failure"
		if ok {
			e.Outcome = "success"
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// credentials reads username and password from a JSON or form body.
func credentials(r *http.Request) (user, pass string, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return "", "", err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" || (ct != "application/x-www-form-urlencoded" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))) {
		var c struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			return "", "", err
		}
		return c.Username, c.Password, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := r.ParseForm(); err != nil {
		return "", "", err
	}
	return r.PostForm.Get("username"), r.PostForm.Get("password"), nil
}

// check verifies a user name and password.
func check(user, pass string) (User, bool) {
	user = strings.ToLower(strings.TrimSpace(user))
	want, ok := passwords[user]
	if !ok || !hmac.Equal([]byte(want), []byte(pass)) {
		return User{}, false
	}
	return userByName(user)
}

func (s *server) newSession(id int) string {
	var b [16]byte
	rand.Read(b[:])
	sid := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.sessions[sid] = id
	s.mu.Unlock()
	return sid
}

func (s *server) sessionUser(r *http.Request) (User, bool) {
	c, err := r.Cookie("session")
	if err != nil {
		return User{}, false
	}
	s.mu.Lock()
	id, ok := s.sessions[c.Value]
	s.mu.Unlock()
	if !ok {
		return User{}, false
	}
	return userByID(id)
}

var b64 = base64.RawURLEncoding

// token issues a JWT-like HS256 token for u.
func (s *server) token(u User) string {
	now := time.Now().Unix()
	var jti [8]byte
	rand.Read(jti[:])
	claims, _ := json.Marshal(map[string]any{"sub": strconv.Itoa(u.ID), "name": u.Username, "iat": now, "exp": now + 3600, "jti": hex.EncodeToString(jti[:])})
	msg := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64.EncodeToString(claims)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(msg))
	return msg + "." + b64.EncodeToString(m.Sum(nil))
}

// bearerUser verifies the request's bearer token.
func (s *server) bearerUser(r *http.Request) (User, bool) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return User{}, false
	}
	tok = strings.TrimSpace(tok)
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return User{}, false
	}
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		return User{}, false
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(tok[:i]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return User{}, false
	}
	_, payload, _ := strings.Cut(tok[:i], ".")
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return User{}, false
	}
	var c struct {
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Exp < time.Now().Unix() {
		return User{}, false
	}
	id, err := strconv.Atoi(c.Sub)
	if err != nil {
		return User{}, false
	}
	return userByID(id)
}

func setSession(w http.ResponseWriter, sid string) {
	http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 3600})
}

// apiLogin is POST /auth/login: JSON or form credentials, a bearer token.
func (s *server) apiLogin(w http.ResponseWriter, r *http.Request) {
	user, pass, err := credentials(r)
	if err != nil || user == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request"})
		return
	}
	u, ok := check(user, pass)
	noteLogin(r, user, ok)
	if !ok {
		writeJSON(w, s.failStatus, map[string]string{"error": "invalid credentials"})
		return
	}
	setSession(w, s.newSession(u.ID))
	writeJSON(w, http.StatusOK, map[string]any{"access_token": s.token(u), "token_type": "bearer", "expires_in": 3600})
}

const loginForm = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in - Example API console</title></head>
<body>
<h1>Sign in</h1>
%s<form method="post" action="/login">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, loginForm, "")
}

// formLogin is POST /login: a browser form, a session cookie and a
// redirect on success, the form again with an error on failure.
func (s *server) formLogin(w http.ResponseWriter, r *http.Request) {
	user, pass, err := credentials(r)
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	u, ok := check(user, pass)
	noteLogin(r, user, ok)
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, loginForm, `<p class="error">Invalid username or password.</p>`+"\n")
		return
	}
	setSession(w, s.newSession(u.ID))
	http.Redirect(w, r, "/dashboard", http.StatusFound)
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	u, ok := s.sessionUser(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Dashboard</title></head><body><h1>Welcome, %s</h1><p>You have 3 API keys and 0 open incidents.</p></body></html>\n", html.EscapeString(u.Name))
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	u, ok := s.bearerUser(r)
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// user is GET /api/v1/users/{id}. Any authenticated caller may read any
// user: the broken object-level authorisation the enumeration exploits.
func (s *server) user(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.bearerUser(r); !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	u, ok := userByID(id)
	if err != nil || !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}
