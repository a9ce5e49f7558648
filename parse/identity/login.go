package identity

import (
	"bytes"

	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/jsonstr"
)

// Outcome is how a login attempt ended, as far as the response tells.
type Outcome uint8

const (
	OutcomeUnknown Outcome = iota
	OutcomeSuccess
	OutcomeFailure
)

var outcomeNames = [...]string{"unknown", "success", "failure"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Login methods: how the credentials were sent.
const (
	LoginForm          = "form"           // application/x-www-form-urlencoded body
	LoginJSON          = "json"           // JSON body
	LoginBasic         = "basic"          // Authorization: Basic
	LoginOAuthPassword = "oauth_password" // OAuth 2 resource owner password grant
)

// Login is what a request/response pair says about an authentication
// attempt. UsernameHash is DomainUser's hash of the normalised submitted
// user name (see Resolver.Login), empty when none was seen. Method is one of
// the Login* constants, empty for a configured login path whose body could
// not be read.
type Login struct {
	IsLogin      bool
	UsernameHash string
	Outcome      Outcome
	Method       string
}

// maxScan bounds the body bytes read for credentials and outcome markers.
const maxScan = 16 << 10

// maxPhraseScan bounds the plain-text scan for failure phrases.
const maxPhraseScan = 4 << 10

// Login reports whether req is a login attempt and how resp (nil when
// unanswered) answered it. path is the request path (a query is ignored; ""
// means req's target).
//
// A request is a login when its path matches Config.LoginPaths or its last
// segment is auth-like (login, signin, sign-in, sign_in, logon, session(s),
// auth, authenticate, authentication, token(s), access_token,
// j_security_check, or containing login/signin/logon; ";params" and a
// ".ext" stripped, case-insensitive), and:
//   - it is a POST, PUT or PATCH whose body (form, or JSON at any depth,
//     field names folded: "user[email]", "Input.Password", "user_name" and
//     "userName" all match) holds a password field (password, pass,
//     passwd, pwd, j_password, passphrase…) — the user name is the first of
//     username, user, email, login, login_id, user_id, identifier, phone…;
//   - or its body has grant_type=password (OAuth; any other grant_type —
//     client_credentials, refresh_token, authorization_code — is client
//     authentication, not a login, even with Basic);
//   - or it carries Authorization: Basic (the Basic user name);
//   - or the path is configured and the method is POST, PUT or PATCH.
//
// User names are percent/JSON-decoded, trimmed of white space and
// lower-cased (Unicode simple folding); nothing else (no e-mail dot or
// plus-tag folding, no Unicode normalisation). The password is never read
// beyond checking the field is present.
//
// Outcome, from resp: 401, 403, 400, 422, 423 and 429 (rate-limited) are
// Failure. A redirect (3xx) whose Location mentions error/fail/invalid/
// denied, or leads to an auth-like page or back to the same path, is
// Failure; otherwise a live Set-Cookie makes it Success. A 2xx is Success
// when a JSON body holds a non-empty token (access_token, token, id_token,
// jwt, auth_token, session_token…); else Failure on an error marker (JSON:
// a non-empty "error"/"errors", "success"/"ok"/"authenticated": false,
// "status": "fail"/"error"…, or a failure phrase — invalid, incorrect,
// wrong password, failed, bad credentials, unauthorized… — in a message
// field; other bodies: such a phrase in the first 4 KiB); else Success on
// "success": true or "status": "ok", on a live session-like Set-Cookie, or
// for Basic auth; else Unknown. Anything else is Unknown.
func (r *Resolver) Login(req, resp *http1.Message, path string) Login {
	if req == nil {
		return Login{}
	}
	// The common case, decided without looking at the path: a request with
	// no body and no Basic credentials can only be a login on a configured
	// login path.
	if len(r.loginPaths) == 0 && len(req.Body) == 0 && !hasPrefixFold(trimSpace(req.Header("Authorization")), "Basic") {
		return Login{}
	}
	var p []byte
	if path != "" {
		var pb [256]byte // stays on the stack for the common path length
		p = append(pb[:0], pathOnly(path)...)
	} else {
		p = targetPath(req.Target)
	}
	configured := r.matchLoginPath(p)
	// An auth-like last segment (/login) makes any credential a login; an
	// auth-like segment further up (/admin/login/pwd, the password step of
	// a two-step form) only a submitted password.
	authLast := isAuthSegment(lastSegment(p))
	bodyMethod := eqFold(req.Method, "POST") || eqFold(req.Method, "PUT") || eqFold(req.Method, "PATCH")
	// Most requests stop here, so the cheap tests come first: a folder
	// below a login page matters only for a body that could hold a password.
	if !configured && (!authLast && (!bodyMethod || len(req.Body) == 0 || !hasAuthSegment(p)) || hasAccountAction(p)) {
		return Login{}
	}
	var l Login
	var user []byte
	userEnc := encRaw
	if bodyMethod && len(req.Body) > 0 {
		cr := readCredentials(req)
		switch {
		case cr.grant != nil && !eqFold(cr.grant, "password"):
			return Login{} // client authentication or code exchange
		case cr.grant != nil:
			l.IsLogin, l.Method = true, LoginOAuthPassword
			user, userEnc = cr.user, cr.enc
		case cr.password:
			l.IsLogin, l.Method = true, cr.method
			user, userEnc = cr.user, cr.enc
		}
	}
	if !l.IsLogin {
		if auth := trimSpace(req.Header("Authorization")); (configured || authLast) && hasPrefixFold(auth, "Basic") && len(auth) > 6 && isSpace(auth[5]) {
			l.IsLogin, l.Method = true, LoginBasic
			h := r.pool.Get().(*hasher)
			if u, ok := decodeBasic(h, trimSpace(auth[6:])); ok {
				l.UsernameHash = r.userHashWith(h, u, encRaw)
			}
			r.put(h)
		} else if configured && bodyMethod {
			l.IsLogin = true
			if ct := req.Header("Content-Type"); indexFold(ct, "json") >= 0 {
				l.Method = LoginJSON
			} else if indexFold(ct, "x-www-form-urlencoded") >= 0 {
				l.Method = LoginForm
			}
		}
	}
	if !l.IsLogin {
		return Login{}
	}
	if len(user) > 0 {
		l.UsernameHash = r.userHash(user, userEnc)
	}
	l.Outcome = r.outcome(resp, l.Method, p)
	return l
}

// pathOnly cuts a query or fragment.
func pathOnly(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}

// targetPath returns the path of a request target (origin or absolute form).
func targetPath(t []byte) []byte {
	if i := bytes.Index(t, []byte("://")); i > 0 && i < 10 {
		t = t[i+3:]
		j := bytes.IndexByte(t, '/')
		if j < 0 {
			return nil
		}
		t = t[j:]
	}
	for i, c := range t {
		if c == '?' || c == '#' {
			return t[:i]
		}
	}
	return t
}

// lastSegment returns the last non-empty path segment without ";params"
// and ".ext".
func lastSegment(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	seg := p[bytes.LastIndexByte(p, '/')+1:]
	if i := bytes.IndexByte(seg, ';'); i >= 0 {
		seg = seg[:i]
	}
	if i := bytes.LastIndexByte(seg, '.'); i > 0 {
		seg = seg[:i]
	}
	return seg
}

var authSegments = [...]string{"login", "logon", "signin", "log-in", "sign-in", "log_in", "sign_in", "session", "sessions",
	"auth", "authenticate", "authentication", "token", "tokens", "access_token", "j_security_check"}

// accountActions name auth endpoints that take a password but are not a
// login attempt.
var accountActions = [...]string{"reset", "forgot", "forgotten", "recover", "register", "registration", "signup", "sign-up",
	"sign_up", "logout", "signout", "sign-out", "change", "verify", "confirm", "activate", "invite"}

// hasAccountAction reports whether a segment of p names one.
func hasAccountAction(p []byte) bool {
	for seg := range bytes.SplitSeq(p, []byte("/")) {
		for _, a := range accountActions {
			if eqFold(seg, a) {
				return true
			}
		}
	}
	return false
}

// hasAuthSegment reports whether any segment of p is auth-like.
func hasAuthSegment(p []byte) bool {
	for seg := range bytes.SplitSeq(p, []byte("/")) {
		if isAuthSegment(seg) {
			return true
		}
	}
	return false
}

func isAuthSegment(seg []byte) bool {
	if len(seg) < 4 || len(seg) > 64 {
		return false
	}
	for _, s := range authSegments {
		if eqFold(seg, s) {
			return true
		}
	}
	return indexFold(seg, "login") >= 0 || indexFold(seg, "signin") >= 0 || indexFold(seg, "sign-in") >= 0 ||
		indexFold(seg, "sign_in") >= 0 || indexFold(seg, "logon") >= 0
}

// matchLoginPath matches p against Config.LoginPaths.
func (r *Resolver) matchLoginPath(p []byte) bool {
outer:
	for _, pat := range r.loginPaths {
		rest := p
		for _, ps := range pat {
			for len(rest) > 0 && rest[0] == '/' {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				continue outer
			}
			seg := rest
			if i := bytes.IndexByte(rest, '/'); i >= 0 {
				seg, rest = rest[:i], rest[i:]
			} else {
				rest = nil
			}
			if i := bytes.IndexByte(seg, ';'); i >= 0 {
				seg = seg[:i]
			}
			if ps == "*" || (len(ps) >= 2 && ps[0] == '{' && ps[len(ps)-1] == '}') {
				continue
			}
			if !eqFold(seg, ps) {
				continue outer
			}
		}
		return true
	}
	return false
}

const (
	encRaw = iota
	encForm
	encJSON
)

type credentials struct {
	user     []byte // raw, in enc
	enc      int
	password bool
	grant    []byte // grant_type value (raw)
	method   string
}

var userKeys = []string{"username", "user", "usr", "uname", "email", "emailaddress", "mail", "useremail", "login", "loginname", "loginid",
	"userid", "account", "accountname", "identifier", "jusername", "phone", "phonenumber", "mobile"}
var passwordKeys = []string{"password", "pass", "passwd", "pwd", "jpassword", "userpassword", "loginpassword", "passphrase"}

// readCredentials looks for credential fields in a request body.
func readCredentials(req *http1.Message) credentials {
	body := req.Body
	if len(body) > maxScan {
		body = body[:maxScan]
	}
	ct := req.Header("Content-Type")
	isJSON := indexFold(ct, "json") >= 0
	isForm := indexFold(ct, "x-www-form-urlencoded") >= 0
	if !isJSON && !isForm {
		if t := trimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			isJSON = true
		} else if len(ct) == 0 || indexFold(ct, "text/plain") >= 0 {
			isForm = true
		}
	}
	var cr credentials
	var kb [32]byte
	switch {
	case isJSON:
		cr.method, cr.enc = LoginJSON, encJSON
		it := newJSONIter(body)
		var m jsonMember
		for it.next(&m) {
			if m.KeyEsc {
				continue
			}
			k := normKey(&kb, m.Key)
			switch {
			case inSet(k, passwordKeys) && m.Str:
				cr.password = true
			case cr.user == nil && m.Str && !m.Truncated && len(m.Val) > 0 && inSet(k, userKeys):
				cr.user = m.Val
			case string(k) == "granttype" && m.Str:
				cr.grant = m.Val
			}
		}
	case isForm:
		cr.method, cr.enc = LoginForm, encForm
		var nb [64]byte
		for q := body; len(q) > 0; {
			var pair []byte
			pair, q = cut(q, '&')
			name, val := cut(pair, '=')
			if len(name) == 0 || len(name) > len(nb) {
				continue
			}
			if needsDecode(name, true) {
				name = percentDecode(nb[:0], name, true)
			}
			k := normKey(&kb, trimSpace(name))
			switch {
			case inSet(k, passwordKeys):
				cr.password = true
			case cr.user == nil && len(val) > 0 && inSet(k, userKeys):
				cr.user = val
			case string(k) == "granttype":
				cr.grant = val
			}
		}
	}
	return cr
}

// userHash hashes a user name in DomainUser after decoding (enc) and
// normalisation (trim, lower-case). It returns "" for an empty name.
func (r *Resolver) userHash(u []byte, enc int) string {
	h := r.pool.Get().(*hasher)
	s := r.userHashWith(h, u, enc)
	r.put(h)
	return s
}

func (r *Resolver) userHashWith(h *hasher, u []byte, enc int) string {
	var tmp [128]byte
	switch {
	case enc == encForm && needsDecode(u, true):
		u = percentDecode(tmp[:0], u, true)
	case enc == encJSON && bytes.IndexByte(u, '\\') >= 0:
		u = jsonstr.Unescape(tmp[:0], u)
	}
	u = bytes.TrimSpace(u)
	if len(u) == 0 {
		return ""
	}
	h.begin(DomainUser)
	ascii := true
	for _, c := range u {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		h.write(bytes.ToLower(u))
		return h.sumString()
	}
	for len(u) > 0 {
		n := min(len(u), len(h.buf))
		for i := 0; i < n; i++ {
			h.buf[i] = lower(u[i])
		}
		h.h.Write(h.buf[:n])
		u = u[n:]
	}
	return h.sumString()
}

// outcome judges resp as the answer to a login attempt.
func (r *Resolver) outcome(resp *http1.Message, method string, reqPath []byte) Outcome {
	if resp == nil {
		return OutcomeUnknown
	}
	switch s := resp.Status; {
	case s == 400 || s == 401 || s == 403 || s == 422 || s == 423 || s == 429:
		return OutcomeFailure
	case s >= 300 && s < 400 && s != 304:
		loc := resp.Header("Location")
		if failureLocation(loc, reqPath) {
			return OutcomeFailure
		}
		if r.liveSetCookie(resp, false) {
			return OutcomeSuccess
		}
		return OutcomeUnknown
	case s >= 200 && s < 300:
		switch bodyVerdict(resp) {
		case verdictToken:
			return OutcomeSuccess
		case verdictFailure:
			return OutcomeFailure
		case verdictSuccess:
			return OutcomeSuccess
		}
		if method == LoginBasic || r.liveSetCookie(resp, true) {
			return OutcomeSuccess
		}
	}
	return OutcomeUnknown
}

var failureWords = [...]string{"error", "fail", "invalid", "denied", "incorrect"}

func failureLocation(loc, reqPath []byte) bool {
	loc = trimSpace(loc)
	if len(loc) == 0 {
		return false
	}
	for _, w := range failureWords {
		if indexFold(loc, w) >= 0 {
			return true
		}
	}
	p := targetPath(loc)
	if isAuthSegment(lastSegment(p)) {
		return true
	}
	trim := func(b []byte) []byte {
		for len(b) > 1 && b[len(b)-1] == '/' {
			b = b[:len(b)-1]
		}
		return b
	}
	return len(reqPath) > 0 && eqFoldBytes(trim(p), trim(reqPath))
}

func eqFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// liveSetCookie reports whether resp sets a cookie that is not a deletion;
// with sessionLike, only one whose name looks like a session (a configured
// session cookie, or a name holding sess, sid, auth, token, jwt, login,
// remember, identity), never a CSRF cookie.
func (r *Resolver) liveSetCookie(resp *http1.Message, sessionLike bool) bool {
	for i := range resp.Headers {
		if !eqFold(resp.Headers[i].Name, "Set-Cookie") {
			continue
		}
		v := resp.Headers[i].Value
		pair, attrs := cut(v, ';')
		name, val := cut(pair, '=')
		name, val = trimSpace(name), trimSpace(val)
		if len(name) == 0 || len(val) == 0 || string(val) == `""` || eqFold(val, "deleted") {
			continue
		}
		if indexFold(attrs, "max-age=0") >= 0 || indexFold(attrs, "max-age=-") >= 0 || indexFold(attrs, "1970") >= 0 {
			continue
		}
		if indexFold(name, "csrf") >= 0 || indexFold(name, "xsrf") >= 0 {
			continue
		}
		if !sessionLike || r.cookieRank(name, len(r.cookies)) < len(r.cookies) {
			return true
		}
		for _, w := range [...]string{"sess", "sid", "auth", "token", "jwt", "login", "remember", "identity"} {
			if indexFold(name, w) >= 0 {
				return true
			}
		}
	}
	return false
}

type verdict uint8

const (
	verdictNone verdict = iota
	verdictToken
	verdictFailure
	verdictSuccess
)

var tokenKeys = []string{"accesstoken", "token", "idtoken", "jwt", "authtoken", "sessiontoken", "bearertoken", "authenticationtoken"}
var flagKeys = []string{"success", "ok", "authenticated", "loggedin", "valid", "succeeded"}
var messageKeys = []string{"message", "msg", "error", "errordescription", "errormessage", "detail", "details", "title", "description", "reason"}
var failurePhrases = [...]string{"invalid", "incorrect", "wrong password", "wrong username", "wrong credentials", "bad credentials",
	"failed", "failure", "unauthorized", "not authorized", "denied", "does not match", "do not match", "not recognized", "try again", "locked"}

func hasFailurePhrase(b []byte) bool {
	for _, p := range failurePhrases {
		if indexFold(b, p) >= 0 {
			return true
		}
	}
	return false
}

// bodyVerdict reads a 2xx login response body.
func bodyVerdict(resp *http1.Message) verdict {
	body := resp.Body
	if len(body) > maxScan {
		body = body[:maxScan]
	}
	t := trimSpace(body)
	if len(t) == 0 {
		return verdictNone
	}
	if t[0] != '{' && t[0] != '[' && indexFold(resp.Header("Content-Type"), "json") < 0 {
		if len(t) > maxPhraseScan {
			t = t[:maxPhraseScan]
		}
		if hasFailurePhrase(t) {
			return verdictFailure
		}
		return verdictNone
	}
	failed, succeeded := false, false
	it := newJSONIter(t)
	var m jsonMember
	var kb [32]byte
	for it.next(&m) {
		if m.KeyEsc {
			continue
		}
		k := normKey(&kb, m.Key)
		switch {
		case m.Str && len(m.Val) > 0 && inSet(k, tokenKeys):
			return verdictToken
		case string(k) == "error" || string(k) == "errors":
			if (m.Str && len(m.Val) > 0) || string(m.Val) == "true" || (m.Container && !emptyContainer(m.Val)) {
				failed = true
			}
		case inSet(k, flagKeys):
			if string(m.Val) == "false" {
				failed = true
			} else if string(m.Val) == "true" {
				succeeded = true
			}
		case string(k) == "status" || string(k) == "result" || string(k) == "outcome":
			if m.Str {
				switch {
				case eqFold(m.Val, "ok"), eqFold(m.Val, "success"), eqFold(m.Val, "succeeded"), eqFold(m.Val, "authenticated"):
					succeeded = true
				case hasFailurePhrase(m.Val), eqFold(m.Val, "fail"), eqFold(m.Val, "error"):
					failed = true
				}
			}
		}
		if m.Str && !failed && inSet(k, messageKeys) && hasFailurePhrase(m.Val) {
			failed = true
		}
	}
	switch {
	case failed:
		return verdictFailure
	case succeeded:
		return verdictSuccess
	}
	return verdictNone
}
