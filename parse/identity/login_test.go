package identity

import (
	"net/netip"
	"testing"
)

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

func TestLogin(t *testing.T) {
	r := newTest(Config{LoginPaths: []string{"/api/v2/tenants/{tenant}/authn", "/legacy/do"}})
	user := func(u string) string { return r.Hash(DomainUser, []byte(u)) }
	tok := mkJWT(`{"iss":"i","sub":"alice"}`)
	cases := []struct {
		name    string
		req     *reqSpec
		resp    *respSpec
		path    string
		want    Login
		secrets []string
	}{
		// Form login, browser flow.
		{"form + 302 with Set-Cookie: success",
			&reqSpec{"POST", "/login", "username=Alice%40Example.com&password=hunter2%21secret&remember=on", []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/dashboard", "Set-Cookie", "session=abc123sessionvalue; Path=/; HttpOnly"}}, "",
			Login{true, user("alice@example.com"), OutcomeSuccess, LoginForm}, []string{"hunter2", "alice@example.com", "Alice%40Example.com", "abc123sessionvalue"}},
		{"form + redirect back to /login?error=1: failure",
			&reqSpec{"POST", "/login", "username=alice&password=wrong-password-1", []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/login?error=1", "Set-Cookie", "flash=bad; Path=/"}}, "",
			Login{true, user("alice"), OutcomeFailure, LoginForm}, []string{"wrong-password-1"}},
		{"form + redirect to the login page: failure",
			&reqSpec{"POST", "/users/sign_in", "user%5Bemail%5D=bob%40corp.io&user%5Bpassword%5D=pw-bob-1234&commit=Log+in", []string{"Content-Type", ctForm + "; charset=UTF-8"}},
			&respSpec{303, "", []string{"Location", "https://app.example.com/users/sign_in", "Set-Cookie", "_app_session=new-rails-session; path=/"}}, "",
			Login{true, user("bob@corp.io"), OutcomeFailure, LoginForm}, []string{"pw-bob-1234", "bob@corp.io", "new-rails-session"}},
		{"form + redirect without cookie: unknown",
			&reqSpec{"POST", "/signin", "email=carol%40x.org&pass=pw-carol-123", []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/home"}}, "",
			Login{true, user("carol@x.org"), OutcomeUnknown, LoginForm}, []string{"pw-carol-123"}},
		{"form + redirect, deleting cookie only: unknown",
			&reqSpec{"POST", "/signin", "email=carol%40x.org&pass=pw-carol-123", []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/home", "Set-Cookie", "session=; Max-Age=0"}}, "",
			Login{true, user("carol@x.org"), OutcomeUnknown, LoginForm}, []string{"pw-carol-123"}},
		{"form + 200 re-rendered page with error: failure",
			&reqSpec{"POST", "/wp-login.php", "log=admin&pwd=Summer2024%21&wp-submit=Log+In", []string{"Content-Type", ctForm}},
			&respSpec{200, "<html><div id=\"login_error\"><strong>Error:</strong> The password you entered for the username admin is incorrect.</div></html>", []string{"Content-Type", "text/html", "Set-Cookie", "PHPSESSID=phpsess1234; path=/"}}, "",
			Login{true, "", OutcomeFailure, LoginForm}, []string{"Summer2024", "phpsess1234"}},
		{"form Java j_security_check + Basic-less, j_username",
			&reqSpec{"POST", "/app/j_security_check;jsessionid=ABCDEF123456", "j_username=Dave&j_password=pw-dave-0001", []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/app/index.jsp", "Set-Cookie", "JSESSIONID=NEWSESSION9876; Path=/app"}}, "",
			Login{true, user("dave"), OutcomeSuccess, LoginForm}, []string{"pw-dave-0001", "NEWSESSION9876", "ABCDEF123456"}},
		{"form without content type (sniffed)",
			&reqSpec{"POST", "/login", "login=eve&passwd=pw-eve-12345", nil},
			&respSpec{401, "", nil}, "",
			Login{true, user("eve"), OutcomeFailure, LoginForm}, []string{"pw-eve-12345"}},

		// JSON APIs.
		{"json + token: success",
			&reqSpec{"POST", "/api/v1/auth/login", `{"email":" Frank@Example.COM ","password":"pw-frank-9876"}`, []string{"Content-Type", ctJSON}},
			&respSpec{200, `{"token":"` + tok + `","user":{"id":7}}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("frank@example.com"), OutcomeSuccess, LoginJSON}, []string{"pw-frank-9876", "frank@example.com", tok}},
		{"json nested fields, escaped user, nested token",
			&reqSpec{"POST", "/api/sessions", `{"user":{"userName":"gr\u00e9ta\u0040x.io","Password":"pw-greta-1"}}`, []string{"Content-Type", "application/json; charset=utf-8"}},
			&respSpec{201, `{"data":{"accessToken":"opaque-token-value-123"}}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("gréta@x.io"), OutcomeSuccess, LoginJSON}, []string{"pw-greta-1", "opaque-token-value-123", "gréta@x.io"}},
		{"json non-ASCII user lower-cased",
			&reqSpec{"POST", "/login", `{"username":"ÉLODIE","password":"pw-elodie-1"}`, []string{"Content-Type", ctJSON}},
			&respSpec{401, `{"error":"unauthorized"}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("élodie"), OutcomeFailure, LoginJSON}, []string{"pw-elodie-1", "élodie"}},
		{"json + 401: failure",
			&reqSpec{"POST", "/api/login", `{"username":"henry","password":"pw-henry-1"}`, []string{"Content-Type", ctJSON}},
			&respSpec{401, `{"message":"Unauthorized"}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("henry"), OutcomeFailure, LoginJSON}, []string{"pw-henry-1"}},
		{"json + 200 success:false: failure",
			&reqSpec{"POST", "/api/login", `{"username":"ivy","password":"pw-ivy-12345"}`, []string{"Content-Type", ctJSON}},
			&respSpec{200, `{"success":false,"message":"Invalid credentials"}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("ivy"), OutcomeFailure, LoginJSON}, []string{"pw-ivy-12345"}},
		{"json + 200 status fail: failure",
			&reqSpec{"POST", "/api/login", `{"username":"ivy","password":"pw-ivy-12345"}`, nil},
			&respSpec{200, `{"status":"fail","data":null}`, nil}, "",
			Login{true, user("ivy"), OutcomeFailure, LoginJSON}, []string{"pw-ivy-12345"}},
		{"json + 200 message only: failure",
			&reqSpec{"POST", "/api/login", `{"username":"ivy","password":"pw-ivy-12345"}`, nil},
			&respSpec{200, `{"code":1001,"msg":"Wrong password"}`, nil}, "",
			Login{true, user("ivy"), OutcomeFailure, LoginJSON}, []string{"pw-ivy-12345"}},
		{"json + 200 error:null with success:true and cookie: success",
			&reqSpec{"POST", "/api/login", `{"username":"jack","password":"pw-jack-12345"}`, nil},
			&respSpec{200, `{"error":null,"errors":[],"success":true,"user":{"failed_attempts":0}}`, []string{"Set-Cookie", "XSRF-TOKEN=x1"}}, "",
			Login{true, user("jack"), OutcomeSuccess, LoginJSON}, []string{"pw-jack-12345"}},
		{"json + 204 with session cookie: success",
			&reqSpec{"POST", "/api/session", `{"login":"kim","password":"pw-kim-123456"}`, nil},
			&respSpec{204, "", []string{"Set-Cookie", "sid=new-sid-value-1; HttpOnly; Secure"}}, "",
			Login{true, user("kim"), OutcomeSuccess, LoginJSON}, []string{"pw-kim-123456", "new-sid-value-1"}},
		{"json + 200 only csrf cookie: unknown",
			&reqSpec{"POST", "/api/session", `{"login":"kim","password":"pw-kim-123456"}`, nil},
			&respSpec{200, `{}`, []string{"Set-Cookie", "csrftoken=abc"}}, "",
			Login{true, user("kim"), OutcomeUnknown, LoginJSON}, []string{"pw-kim-123456"}},
		{"json + 429: failure (rate limited)",
			&reqSpec{"POST", "/api/login", `{"username":"leo","password":"pw-leo-123456"}`, nil},
			&respSpec{429, `{"error":"too many requests"}`, nil}, "",
			Login{true, user("leo"), OutcomeFailure, LoginJSON}, []string{"pw-leo-123456"}},
		{"json + 500: unknown",
			&reqSpec{"POST", "/api/login", `{"username":"leo","password":"pw-leo-123456"}`, nil},
			&respSpec{500, `oops`, nil}, "",
			Login{true, user("leo"), OutcomeUnknown, LoginJSON}, []string{"pw-leo-123456"}},
		{"json unanswered: unknown",
			&reqSpec{"POST", "/api/login", `{"username":"leo","password":"pw-leo-123456"}`, nil},
			nil, "",
			Login{true, user("leo"), OutcomeUnknown, LoginJSON}, []string{"pw-leo-123456"}},
		{"json truncated body still read",
			&reqSpec{"POST", "/api/login", `{"username":"mia","password":"pw-mia-12`, nil},
			&respSpec{403, "", nil}, "",
			Login{true, user("mia"), OutcomeFailure, LoginJSON}, []string{"pw-mia-12"}},

		// OAuth.
		{"oauth password grant (form) + access_token: success",
			&reqSpec{"POST", "/oauth/token", "grant_type=password&username=nina&password=pw-nina-1234&client_id=web&scope=openid", []string{"Content-Type", ctForm, "Authorization", basic("web", "client-secret-xyz")}},
			&respSpec{200, `{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("nina"), OutcomeSuccess, LoginOAuthPassword}, []string{"pw-nina-1234", "client-secret-xyz", "2YotnFZFEjr1zCsicMWpAA"}},
		{"oauth password grant + 400 invalid_grant: failure",
			&reqSpec{"POST", "/realms/main/protocol/openid-connect/token", "grant_type=password&username=nina&password=pw-nina-bad1", []string{"Content-Type", ctForm}},
			&respSpec{400, `{"error":"invalid_grant","error_description":"Invalid user credentials"}`, []string{"Content-Type", ctJSON}}, "",
			Login{true, user("nina"), OutcomeFailure, LoginOAuthPassword}, []string{"pw-nina-bad1"}},
		{"oauth password grant (JSON)",
			&reqSpec{"POST", "/connect/token", `{"grant_type":"password","username":"omar","password":"pw-omar-1234"}`, []string{"Content-Type", ctJSON}},
			&respSpec{200, `{"access_token":"at-omar-123456","refresh_token":"rt"}`, nil}, "",
			Login{true, user("omar"), OutcomeSuccess, LoginOAuthPassword}, []string{"pw-omar-1234", "at-omar-123456"}},
		{"oauth client_credentials with Basic: not a login",
			&reqSpec{"POST", "/oauth/token", "grant_type=client_credentials&scope=read", []string{"Content-Type", ctForm, "Authorization", basic("svc", "client-secret-xyz")}},
			&respSpec{200, `{"access_token":"x"}`, nil}, "",
			Login{}, nil},
		{"oauth refresh_token: not a login",
			&reqSpec{"POST", "/oauth/token", "grant_type=refresh_token&refresh_token=rt-123456789", []string{"Content-Type", ctForm}},
			&respSpec{200, `{"access_token":"x"}`, nil}, "",
			Login{}, nil},

		// Basic.
		{"Basic on an auth path + 200: success",
			&reqSpec{"GET", "/api/auth", "", []string{"Authorization", basic("Paul", "pw-paul-1234")}},
			&respSpec{200, `{"name":"Paul"}`, nil}, "",
			Login{true, user("paul"), OutcomeSuccess, LoginBasic}, []string{"pw-paul-1234"}},
		{"Basic on an auth path + 401: failure",
			&reqSpec{"POST", "/login", "", []string{"Authorization", basic("paul", "pw-paul-bad1")}},
			&respSpec{401, "", []string{"WWW-Authenticate", `Basic realm="x"`}}, "",
			Login{true, user("paul"), OutcomeFailure, LoginBasic}, []string{"pw-paul-bad1"}},
		{"Basic undecodable: login without user",
			&reqSpec{"GET", "/login", "", []string{"Authorization", "Basic %%%%"}},
			&respSpec{401, "", nil}, "",
			Login{true, "", OutcomeFailure, LoginBasic}, nil},

		// Configured paths and the path argument.
		{"configured template path, JSON without known fields",
			&reqSpec{"POST", "/api/v2/tenants/acme/authn", `{"identifier":"quinn","secret":"pw-quinn-123"}`, []string{"Content-Type", ctJSON}},
			&respSpec{200, `{"sessionToken":"st-123456789"}`, nil}, "",
			Login{true, "", OutcomeSuccess, LoginJSON}, []string{"pw-quinn-123", "st-123456789"}},
		{"configured prefix path with extra segment",
			&reqSpec{"PUT", "/legacy/do/it", `x=1`, []string{"Content-Type", ctForm}},
			&respSpec{302, "", []string{"Location", "/legacy/home", "Set-Cookie", "a=b"}}, "",
			Login{true, "", OutcomeSuccess, LoginForm}, nil},
		{"configured path, GET: not a login",
			&reqSpec{"GET", "/legacy/do", ``, nil}, &respSpec{200, "<form>", nil}, "",
			Login{}, nil},
		{"path argument wins over target",
			&reqSpec{"POST", "/v1/x", `{"username":"rita","password":"pw-rita-1234"}`, nil},
			&respSpec{401, "", nil}, "/v1/login?next=/",
			Login{true, user("rita"), OutcomeFailure, LoginJSON}, []string{"pw-rita-1234"}},

		// Not logins.
		{"GET /login page: not a login",
			&reqSpec{"GET", "/login", "", nil}, &respSpec{200, "<html>", nil}, "", Login{}, nil},
		{"POST to a non-auth path with credentials (signup): not a login",
			&reqSpec{"POST", "/api/register", `{"email":"a@b.c","password":"pw-signup-1"}`, nil}, &respSpec{201, "", nil}, "", Login{}, nil},
		{"POST to an auth path without a password: not a login",
			&reqSpec{"POST", "/auth/login", `{"email":"a@b.c"}`, nil}, &respSpec{200, "", nil}, "", Login{}, nil},
		{"password reset is not a login",
			&reqSpec{"POST", "/auth/password/reset", `{"email":"a@b.c","password":"x"}`, nil}, nil, "", Login{}, nil},
		{"logout is not a login",
			&reqSpec{"POST", "/logout", `{"password":"x"}`, nil}, nil, "", Login{}, nil},
		{"API call on a resource",
			&reqSpec{"GET", "/v1/users/42", "", []string{"Authorization", "Bearer x"}}, &respSpec{200, "{}", nil}, "", Login{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rq := req(c.req.method, c.req.target, c.req.body, c.req.hdrs...)
			var rs = resp(0, "")
			if c.resp != nil {
				rs = resp(c.resp.status, c.resp.body, c.resp.hdrs...)
			} else {
				rs = nil
			}
			got := r.Login(rq, rs, c.path)
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
			if got.UsernameHash != "" && !isHash(got.UsernameHash) {
				t.Errorf("username hash %q", got.UsernameHash)
			}
			noSecrets(t, []string{got.UsernameHash, got.Method}, c.secrets...)
			a := r.Actor(rq, netip.Addr{})
			noSecrets(t, []string{a.ID, a.Issuer}, c.secrets...)
		})
	}
}

type reqSpec struct {
	method, target, body string
	hdrs                 []string
}

type respSpec struct {
	status int
	body   string
	hdrs   []string
}

func TestIsAuthPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/login": true, "/Login/": true, "/api/v1/auth": true, "/oauth/token": true, "/oauth2/v2.0/token": true,
		"/users/sign_in": true, "/account/login.php": true, "/wp-login.php": true, "/adminLogin": true,
		"/session": true, "/api/sessions": true, "/j_security_check;jsessionid=1": true, "/sign-in": true,
		"/logout": false, "/users/42": false, "/": false, "": false, "/auth/register": false, "/blog/login-tips/comments": false,
	} {
		if got := isAuthSegment(lastSegment([]byte(p))); got != want {
			t.Errorf("%q: got %v", p, got)
		}
	}
}

// TestTwoStepLogin: forms that ask for the user name first and the password
// on a second page (/admin/login/pwd, from a real capture) are logins at
// the password step; a password-free request under an auth-like folder is
// not.
func TestTwoStepLogin(t *testing.T) {
	r := New(Config{Secret: []byte("k")})
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	redirect := resp(302, "", "Location", "/admin/", "Set-Cookie", "session=abc; Path=/")
	l := r.Login(req("POST", "/admin/login/pwd", "SEC=x&password=hunter22&next=%2Fadmin%2F", form...), redirect, "")
	if !l.IsLogin || l.Method != LoginForm || l.Outcome != OutcomeSuccess || l.UsernameHash != "" {
		t.Errorf("password step: %+v", l)
	}
	if l := r.Login(req("POST", "/blog/login-tips/comments", "comment=nice", form...), redirect, ""); l.IsLogin {
		t.Errorf("comment under an auth-like folder taken for a login: %+v", l)
	}
	if l := r.Login(req("GET", "/admin/login/pwd", "", "Authorization", "Basic dTpw"), redirect, ""); l.IsLogin {
		t.Errorf("Basic auth on a page below a login folder taken for a login: %+v", l)
	}
}
