package endpoint

import "testing"

func TestClassifySegment(t *testing.T) {
	f := func(seg string, want ParamType) {
		t.Helper()
		for range 2 {
			got, ok := ClassifySegment(seg)
			if got != want || ok != (want != TypeNone) {
				t.Fatalf("ClassifySegment(%q) = %v, %v; want %v", seg, got, ok, want)
			}
		}
	}
	// integers
	f("42", TypeInt)
	f("0", TypeInt)
	f("2024", TypeInt)
	f("20240131", TypeInt)
	f("1234567890123456789", TypeInt)
	f("12345.pdf", TypeInt)
	// versions, locales, words
	f("v1", TypeNone)
	f("V2", TypeNone)
	f("v2beta", TypeNone)
	f("v2.1", TypeNone)
	f("v1alpha1", TypeNone)
	f("2.0", TypeNone)
	f("1.2.3", TypeNone)
	f("en", TypeNone)
	f("en-US", TypeNone)
	f("pt_BR", TypeNone)
	f("me", TypeNone)
	f("search", TypeNone)
	f("users", TypeNone)
	f("getUserProfile", TypeNone)
	f("getUserProfileById", TypeNone)
	f("getUserProfileV2Beta", TypeNone)
	f("my-awesome-product-name", TypeNone)
	f("product-name-2024-edition-blue", TypeNone)
	f("iphone15promax256", TypeNone)
	f("user_profile_settings_2", TypeNone)
	f("guide.pdf", TypeNone)
	f("", TypeNone)
	// UUIDs and hex
	f("123e4567-e89b-12d3-a456-426614174000", TypeUUID)
	f("123E4567-E89B-12D3-A456-426614174000", TypeUUID)
	f("123e4567e89b12d3a456426614174000", TypeHash)
	f("d41d8cd98f00b204e9800998ecf8427e", TypeHash)                                 // md5
	f("da39a3ee5e6b4b0d3255bfef95601890afd80709", TypeHash)                         // sha1
	f("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TypeHash) // sha256
	f("507f1f77bcf86cd799439011", TypeHex)                                          // mongo ObjectId
	f("3f9a1c2b4d5e6f70", TypeHex)
	f("3f9a1c", TypeNone)
	f("123456789012345678901234", TypeHex)
	// ULID
	f("01ARZ3NDEKTSV4RRFFQ69G5FAV", TypeULID)
	f("01hv3k5zq8m2x9c7b6n4t1r0pw", TypeULID)
	// tokens
	f("cus_NffrFeUfNV2Hib", TypeToken)
	f("ch_3MmlLrLkdIwHu7ix0snN0B15", TypeToken)
	f("NffrFeUfNV2HibXq", TypeToken)
	f("a1b2c3d4e5f6g7h8", TypeToken)
	f("dGhpcyBpcyBhIHRva2VuMTIz", TypeToken)
	f("aGVsbG8gd29ybGQxMjM0NQ==", TypeToken)
	f("txn_8f7d6c5b4a3e2d1c", TypeToken)
	f("order-01HV3K5ZQ8M2X9C7B6N4T1R0PW", TypeToken)
	f("Zx9-Kq2_Lm4Pw8Rt7Vb", TypeToken)
	f("AB12CD34EF56GH78", TypeToken)
	f("getHTTP2ResponseBody", TypeNone)
	// emails and dates
	f("alice@example.com", TypeEmail)
	f("a.b+tag@mail.example.co.uk", TypeEmail)
	f("alice@localhost", TypeNone)
	f("2024-01-31", TypeDate)
	f("2024-01-31T10:00:00Z", TypeDate)
	f("2024-13-31", TypeNone)
	f("2024-01-31.json", TypeDate)
}

func TestIsLocale(t *testing.T) {
	for _, s := range []string{"en", "fr", "en-US", "pt_BR", "zh-Hans", "zh-Hant-TW", "es-419"} {
		if !isLocale(s) {
			t.Errorf("isLocale(%q) = false", s)
		}
	}
	for _, s := range []string{"bob", "e", "EN", "en-us", "english", "en-USA", "a-b-c-d"} {
		if isLocale(s) {
			t.Errorf("isLocale(%q) = true", s)
		}
	}
}
