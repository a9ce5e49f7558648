package trafficgen

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"time"
)

// Fake personal data for response bodies. The lists are short on purpose:
// what matters to apiwatch is the shape of the data (emails, phones,
// addresses, identifiers), not its variety.
var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
		"David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
		"Sarah", "Carlos", "Karen", "Wei", "Aisha", "Olga", "Hiroshi", "Fatima", "Lukas", "Chloé",
		"Mateo", "Priya", "Noah", "Emma", "Liam", "Sofia", "Yusuf", "Ingrid", "Pierre", "Anna"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore",
		"Jackson", "Martin", "Lee", "Müller", "Schmidt", "Dubois", "Rossi", "Kowalski", "Nakamura",
		"Chen", "Patel", "Khan", "Ivanova", "Silva", "Jensen", "O'Brien", "Novak", "Kim", "Nguyen"}
	emailDomains = []string{"gmail.com", "yahoo.com", "outlook.com", "example.com", "proton.me",
		"icloud.com", "mail.example.org", "corp.example.net"}
	streets = []string{"Main St", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road", "High Street",
		"Station Road", "Elm Street", "Rue de la Paix", "Hauptstraße", "Via Roma", "Sunset Blvd"}
	cities = []struct{ city, country, postal string }{
		{"Springfield", "US", "62701"}, {"Austin", "US", "73301"}, {"Seattle", "US", "98101"},
		{"London", "GB", "EC1A 1BB"}, {"Manchester", "GB", "M1 1AE"}, {"Berlin", "DE", "10115"},
		{"Munich", "DE", "80331"}, {"Paris", "FR", "75001"}, {"Lyon", "FR", "69001"},
		{"Milan", "IT", "20121"}, {"Madrid", "ES", "28001"}, {"Toronto", "CA", "M5H 2N2"},
		{"Sydney", "AU", "2000"}, {"Tokyo", "JP", "100-0001"}, {"São Paulo", "BR", "01000-000"},
	}
	productWords = []string{"Wireless", "Ergonomic", "Compact", "Smart", "Organic", "Premium",
		"Portable", "Vintage", "Ultra", "Eco"}
	productNouns = []string{"Mouse", "Keyboard", "Headphones", "Backpack", "Coffee Beans", "Desk Lamp",
		"Water Bottle", "Monitor", "Sneakers", "Notebook", "Charger", "Chair", "Tent", "Blender"}
	tags         = []string{"new", "sale", "bestseller", "eco", "limited", "gift", "outdoor", "office", "kitchen", "audio"}
	orderStatus  = []string{"pending", "paid", "shipped", "delivered", "cancelled", "refunded"}
	currencies   = []string{"USD", "EUR", "GBP", "JPY", "CAD"}
	roles        = []string{"customer", "customer", "customer", "customer", "support", "admin"}
	searchTerms  = []string{"mouse", "usb-c+charger", "running+shoes", "coffee", "desk", "laptop+stand", "tent", "headphones"}
	lorem        = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat."
	baseTimeUnix = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// jsonBuf appends JSON by hand: encoding/json with maps or reflection would be
// the slowest part of the generator, and every string here is known to need
// no escaping beyond what appendStr does.
type jsonBuf []byte

func (b jsonBuf) str(s string) jsonBuf {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func (b jsonBuf) key(k string) jsonBuf {
	if n := len(b); n > 0 && b[n-1] != '{' && b[n-1] != '[' {
		b = append(b, ',')
	}
	return append(b.str(k), ':')
}

func (b jsonBuf) kstr(k, v string) jsonBuf     { return b.key(k).str(v) }
func (b jsonBuf) kint(k string, v int) jsonBuf { return strconv.AppendInt(b.key(k), int64(v), 10) }
func (b jsonBuf) kbool(k string, v bool) jsonBuf {
	return strconv.AppendBool(b.key(k), v)
}
func (b jsonBuf) kfloat(k string, v float64) jsonBuf {
	return strconv.AppendFloat(b.key(k), v, 'f', 2, 64)
}

// elem starts an array element: a comma unless it is the first.
func (b jsonBuf) elem() jsonBuf {
	if n := len(b); n > 0 && b[n-1] != '[' {
		b = append(b, ',')
	}
	return b
}

func uuidOf(r *rand.Rand) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:], r.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

func timestamp(r *rand.Rand) string {
	return time.Unix(baseTimeUnix+r.Int64N(3*365*86400), 0).UTC().Format(time.RFC3339)
}

func phone(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return "+1-555-" + strconv.Itoa(100+r.IntN(900)) + "-" + strconv.Itoa(1000+r.IntN(9000))
	case 1:
		return "+44 20 " + strconv.Itoa(1000+r.IntN(9000)) + " " + strconv.Itoa(1000+r.IntN(9000))
	case 2:
		return "+49 30 " + strconv.Itoa(10000000+r.IntN(90000000))
	default:
		return "(555) " + strconv.Itoa(100+r.IntN(900)) + "-" + strconv.Itoa(1000+r.IntN(9000))
	}
}

// asciiLower keeps emails and usernames ASCII even for names like "Müller".
func asciiLower(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			out = append(out, c)
		}
	}
	return string(out)
}

func (b jsonBuf) address(r *rand.Rand) jsonBuf {
	c := pick(r, cities)
	b = append(b.key("address"), '{')
	b = b.kstr("street", strconv.Itoa(1+r.IntN(300))+" "+pick(r, streets))
	b = b.kstr("city", c.city).kstr("postal_code", c.postal).kstr("country", c.country)
	return append(b, '}')
}

func (b jsonBuf) user(r *rand.Rand, id int) jsonBuf {
	first, last := pick(r, firstNames), pick(r, lastNames)
	local := asciiLower(first) + "." + asciiLower(last)
	b = append(b, '{')
	b = b.kint("id", id).kstr("uuid", uuidOf(r)).kstr("username", local+strconv.Itoa(r.IntN(100)))
	b = b.kstr("first_name", first).kstr("last_name", last)
	b = b.kstr("email", local+"@"+pick(r, emailDomains)).kstr("phone", phone(r))
	b = b.address(r)
	b = b.kstr("role", pick(r, roles)).kbool("email_verified", r.IntN(5) > 0)
	b = b.kstr("created_at", timestamp(r)).kstr("last_login", timestamp(r))
	return append(b, '}')
}

func (b jsonBuf) money(k string, r *rand.Rand, max int) jsonBuf {
	b = append(b.key(k), '{')
	b = b.kint("amount", 99+r.IntN(max)).kstr("currency", pick(r, currencies))
	return append(b, '}')
}

func (b jsonBuf) product(r *rand.Rand, id int) jsonBuf {
	b = append(b, '{')
	b = b.kint("id", id).kstr("sku", "SKU-"+strconv.Itoa(10000+r.IntN(90000)))
	b = b.kstr("name", pick(r, productWords)+" "+pick(r, productNouns))
	b = b.kstr("description", lorem[:40+r.IntN(len(lorem)-40)])
	b = b.money("price", r, 50000).kint("stock", r.IntN(500)).kfloat("rating", 1+4*r.Float64())
	b = append(b.key("tags"), '[')
	for range 1 + r.IntN(3) {
		b = b.elem().str(pick(r, tags))
	}
	b = append(b, ']')
	return append(b, '}')
}

func (b jsonBuf) orderItem(r *rand.Rand, id int) jsonBuf {
	b = append(b, '{')
	b = b.kint("id", id).kint("product_id", 1+r.IntN(200000)).kstr("sku", "SKU-"+strconv.Itoa(10000+r.IntN(90000)))
	b = b.kstr("name", pick(r, productWords)+" "+pick(r, productNouns))
	b = b.kint("quantity", 1+r.IntN(5)).money("unit_price", r, 20000)
	return append(b, '}')
}

func (b jsonBuf) order(r *rand.Rand, id string, userID int) jsonBuf {
	b = append(b, '{')
	b = b.kstr("id", id).kint("user_id", userID).kstr("status", pick(r, orderStatus))
	b = b.money("total", r, 200000).kint("items_count", 1+r.IntN(12))
	b = b.address(r).kstr("created_at", timestamp(r))
	return append(b, '}')
}

// page wraps records in the envelope most paginated JSON APIs use.
func (b jsonBuf) page(r *rand.Rand, n, page, limit int, next string, record func(jsonBuf, int) jsonBuf) jsonBuf {
	b = append(b, `{"data":[`...)
	for i := range n {
		b = record(b.elem(), 1+r.IntN(500000)+i)
	}
	b = append(b, ']')
	b = b.kint("page", page).kint("limit", limit).kint("total", 5000+r.IntN(200000))
	if next != "" {
		b = b.kstr("next", next)
	}
	return append(b, '}')
}

// with adds k: v to the object b ends with.
func (b jsonBuf) with(k, v string) jsonBuf {
	return append(b[:len(b)-1].kstr(k, v), '}')
}

// addItem writes a request adding product to an order, and its answer.
func addItem(rb, wb jsonBuf, r *rand.Rand, product int) (jsonBuf, jsonBuf) {
	rb = append(rb, '{')
	rb = append(rb.kint("product_id", product).kint("quantity", 1+r.IntN(3)), '}')
	return rb, wb.orderItem(r, 1+r.IntN(1000000))
}

func (b jsonBuf) apiError(code, msg, requestID string) jsonBuf {
	b = append(b, '{')
	b = b.kstr("error", code).kstr("message", msg).kstr("request_id", requestID)
	return append(b, '}')
}

var b64 = base64.RawURLEncoding

// jwt returns a token with the shape of a real HS256 JWT; the signature is
// random bytes, nothing verifies it.
func jwt(r *rand.Rand, sub int) string {
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	iat := baseTimeUnix + 3*365*86400 + r.Int64N(86400)
	claims := jsonBuf{'{'}.kstr("sub", strconv.Itoa(sub)).kstr("iss", "https://auth.example.com")
	claims = claims.kstr("scope", "read write").kint("iat", int(iat)).kint("exp", int(iat)+3600)
	claims = append(claims, '}')
	sig := make([]byte, 32)
	for i := range sig {
		sig[i] = byte(r.Uint32())
	}
	return header + "." + b64.EncodeToString(claims) + "." + b64.EncodeToString(sig)
}

// gaID is a Google Analytics client id, as browsers send in the _ga cookie.
func gaID(r *rand.Rand) string {
	return strconv.Itoa(100000000+r.IntN(900000000)) + "." + strconv.Itoa(1700000000+r.IntN(30000000))
}

func randToken(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(out)
}
