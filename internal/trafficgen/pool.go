package trafficgen

import (
	"bytes"
	"compress/gzip"
	"math/rand/v2"
	"strconv"
)

// body is a precomputed response body with its gzip encoding, so that
// compressing hundreds of MB is never on the generation path.
type body struct {
	plain, gz []byte
}

// bodyPool holds the list responses, which dominate the bytes of an API
// capture. Single records are generated per request instead (they are
// small, and then carry the id the client asked for).
type bodyPool struct {
	userPages    []body // GET /api/v1/users?page=N
	productPages []body // GET /api/v2/products?page=N, search
	orderItems   []body // GET /api/v1/orders/{uuid}/items
	exports      []body // GET /api/v1/export/customers: the rare ~1 MB response
}

func newBodyPool(r *rand.Rand) *bodyPool {
	p := &bodyPool{}
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	compress := func(plain []byte) body { return gzipped(zw, plain) }
	for i := range 24 {
		page := 1 + r.IntN(40)
		next := "/api/v1/users?page=" + strconv.Itoa(page+1) + "&limit=50"
		b := jsonBuf(nil).page(r, 1+r.IntN(50), page, 50, next, func(b jsonBuf, id int) jsonBuf { return b.user(r, id) })
		p.userPages = append(p.userPages, compress(b))

		next = "/api/v2/products?page=" + strconv.Itoa(page+1) + "&limit=50"
		n := 1 + r.IntN(50)
		if i%6 == 0 {
			n = 0 // a search with no hits: a tiny body
		}
		b = jsonBuf(nil).page(r, n, page, 50, next, func(b jsonBuf, id int) jsonBuf { return b.product(r, id) })
		p.productPages = append(p.productPages, compress(b))

		b = jsonBuf(nil).page(r, 1+r.IntN(30), 1, 50, "", func(b jsonBuf, id int) jsonBuf { return b.orderItem(r, id) })
		p.orderItems = append(p.orderItems, compress(b))
	}
	for range 2 {
		b := jsonBuf(nil).page(r, 2000+r.IntN(300), 1, 50, "", func(b jsonBuf, id int) jsonBuf { return b.user(r, id) })
		p.exports = append(p.exports, compress(b))
	}
	return p
}

// userDumps are pages of 200 users, what a scraper asks for.
func userDumps(r *rand.Rand) []body {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	var dumps []body
	for page := range 6 {
		b := jsonBuf(nil).page(r, 200, page+1, 200, "", func(b jsonBuf, id int) jsonBuf { return b.user(r, id) })
		dumps = append(dumps, gzipped(zw, b))
	}
	return dumps
}

// gzipped pairs plain with its gzip encoding, made with zw.
func gzipped(zw *gzip.Writer, plain []byte) body {
	var out bytes.Buffer
	zw.Reset(&out)
	zw.Write(plain)
	zw.Close()
	return body{plain: plain, gz: out.Bytes()}
}
