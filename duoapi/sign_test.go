// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The vectors below are the official ones collected in the project's research
// notes (duo-admin-api.md §6.4): TV1-TV9 come from Duo's own client test
// suites; the "derived" ones are regression values for the log endpoints.

const (
	docIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	docSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	docHost = "api-XXXXXXXX.duosecurity.com"
	docDate = "Tue, 21 Aug 2012 17:29:18 -0000"
)

func unicodeRequest() Request {
	return Request{
		Date:   "Fri, 07 Dec 2012 17:18:00 -0000",
		Method: "PoSt",
		Host:   "foO.BAr52.cOm",
		Path:   "/Foo/BaR2/qux",
		Params: url.Values{
			"\u469a\u287b\u35d0\u8ef3\u6727\u502a\u0810\ud091\u00c8\uc170": {"\u0f45\u1a76\u341a\u654c\uc23f\u9b09\uabe2\u8343\u1b27\u60d0"},
			"\u7449\u7e4b\uccfb\u59ff\ufe5f\u83b7\uadcc\u900c\ucfd1\u7813": {"\u8db7\u5022\u92d3\u42ef\u207d\u8730\uacfe\u5617\u0946\u4e30"},
			"\u7470\u9314\u901c\u9eae\u40d8\u4201\u82d8\u8c70\u1d31\ua042": {"\u17d9\u0ba8\u9358\uaadf\ua42a\u48be\ufb96\u6fe9\ub7ff\u32f3"},
			"\uc2c5\u2c1d\u2620\u3617\u96b3F\u8605\u20e8\uac21\u5934":      {"\ufba9\u41aa\ubd83\u840b\u2615\u3e6e\u652d\ua8b5\ud56bU"},
		},
	}
}

func TestCanonicalV2Unicode(t *testing.T) {
	// TV1 canonical text (duo_client_python TestCanonicalize.test_v2).
	want := "Fri, 07 Dec 2012 17:18:00 -0000\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n" +
		"%E4%9A%9A%E2%A1%BB%E3%97%90%E8%BB%B3%E6%9C%A7%E5%80%AA%E0%A0%90%ED%82%91%C3%88%EC%85%B0=%E0%BD%85%E1%A9%B6%E3%90%9A%E6%95%8C%EC%88%BF%E9%AC%89%EA%AF%A2%E8%8D%83%E1%AC%A7%E6%83%90" +
		"&%E7%91%89%E7%B9%8B%EC%B3%BB%E5%A7%BF%EF%B9%9F%E8%8E%B7%EA%B7%8C%E9%80%8C%EC%BF%91%E7%A0%93=%E8%B6%B7%E5%80%A2%E9%8B%93%E4%8B%AF%E2%81%BD%E8%9C%B0%EA%B3%BE%E5%98%97%E0%A5%86%E4%B8%B0" +
		"&%E7%91%B0%E9%8C%94%E9%80%9C%E9%BA%AE%E4%83%98%E4%88%81%E8%8B%98%E8%B1%B0%E1%B4%B1%EA%81%82=%E1%9F%99%E0%AE%A8%E9%8D%98%EA%AB%9F%EA%90%AA%E4%A2%BE%EF%AE%96%E6%BF%A9%EB%9F%BF%E3%8B%B3" +
		"&%EC%8B%85%E2%B0%9D%E2%98%A0%E3%98%97%E9%9A%B3F%E8%98%85%E2%83%A8%EA%B0%A1%E5%A4%B4=%EF%AE%A9%E4%86%AA%EB%B6%83%E8%90%8B%E2%98%95%E3%B9%AE%E6%94%AD%EA%A2%B5%ED%95%ABU"
	assert.Equal(t, want, unicodeRequest().Canonical(SignatureV2))
}

func TestSignatureVectors(t *testing.T) {
	docReq := Request{
		Date: docDate, Method: "POST", Host: docHost, Path: "/accounts/v1/account/list",
		Params: url.Values{"realname": {"First Last"}, "username": {"root"}},
	}
	logReq := Request{
		Date: docDate, Method: "GET", Host: docHost, Path: "/admin/v2/logs/authentication",
		Params: url.Values{
			"mintime":     {"1532951960000"},
			"maxtime":     {"1532951965000"},
			"limit":       {"1000"},
			"sort":        {"ts:asc"},
			"next_offset": {"1532951920000,b40ba235-0b33-23c8-bc23-a31aa0231db4"},
		},
	}
	adminReq := Request{
		Date: docDate, Method: "GET", Host: docHost, Path: "/admin/v1/logs/administrator",
		Params: url.Values{"mintime": {"1346172815"}},
	}
	tests := []struct {
		name    string
		version SignatureVersion
		ikey    string
		skey    string
		req     Request
		wantHex string
		wantHdr string
	}{
		{
			name: "TV1 v2 HMAC-SHA1 unicode", version: SignatureV2SHA1, ikey: "test_ikey",
			skey: "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT", req: unicodeRequest(),
			wantHex: "f01811cbbf9561623ab45b893096267fd46a5178",
		},
		{
			name: "TV2 v2 HMAC-SHA512 unicode", version: SignatureV2, ikey: "test_ikey",
			skey: "gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT", req: unicodeRequest(),
			wantHex: "0508065035a03b2a1de2f453e629e791d180329e157f65df6b3e0f08299d4321e1c5c7a7c7ee6b9e5fc80d1fb6fbf3ad5eb7c44dd3b3985a02c37aca53ec3698",
			wantHdr: "Basic dGVzdF9pa2V5OjA1MDgwNjUwMzVhMDNiMmExZGUyZjQ1M2U2MjllNzkxZDE4MDMyOWUxNTdmNjVkZjZiM2UwZjA4Mjk5ZDQzMjFlMWM1YzdhN2M3ZWU2YjllNWZjODBkMWZiNmZiZjNhZDVlYjdjNDRkZDNiMzk4NWEwMmMzN2FjYTUzZWMzNjk4",
		},
		{
			name: "TV3 docs example HMAC-SHA512", version: SignatureV2, ikey: docIKey, skey: docSKey, req: docReq,
			wantHex: "1bffb8924348f7db7da9e7d7d749ded93aafd02d8e904960da7b96c57510220185a64a2827ee8f24ac5d30802a9ee97e59de44b304b18242f0d596d15a8122af",
			wantHdr: "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MWJmZmI4OTI0MzQ4ZjdkYjdkYTllN2Q3ZDc0OWRlZDkzYWFmZDAyZDhlOTA0OTYwZGE3Yjk2YzU3NTEwMjIwMTg1YTY0YTI4MjdlZThmMjRhYzVkMzA4MDJhOWVlOTdlNTlkZTQ0YjMwNGIxODI0MmYwZDU5NmQxNWE4MTIyYWY=",
		},
		{
			name: "TV4 docs example HMAC-SHA1", version: SignatureV2SHA1, ikey: docIKey, skey: docSKey, req: docReq,
			wantHex: "2d97d6166319781b5a3a07af39d366f491234edc",
			wantHdr: "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MmQ5N2Q2MTY2MzE5NzgxYjVhM2EwN2FmMzlkMzY2ZjQ5MTIzNGVkYw==",
		},
		{
			name: "TV5 v5 with JSON body", version: SignatureV5, ikey: docIKey, skey: docSKey,
			req: Request{
				Date: docDate, Method: "POST", Host: docHost, Path: "/accounts/v1/account/list",
				Params: url.Values{"realname": {"First Last"}},
				Body:   []byte(`{"txid":"f22b1678-252a-4070-b176-0ca2be7319fd"}`),
			},
			wantHdr: "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6NzhmNDMyN2Y4MzExNzNjYzc4ZDA5MDdlOTEzZTNjNWEyOGZlNzJkZDQ1NDVhMzQyNTg2YmI2NzE4MWYyYmEzOTNkMjA5MTFlODcwMzYyZjZmYWJhM2RjNmY3ZTlkYjVlOTNhZWQyZjNiZmMxMTBjNmRhZGFmZjRkYzYxNzllMGI=",
		},
		{
			name: "derived auth log GET v2 SHA1", version: SignatureV2SHA1, ikey: docIKey, skey: docSKey, req: logReq,
			wantHex: "9a75443039d6fa7dcad84993bf59c60c507a2326",
		},
		{
			name: "derived auth log GET v2 SHA512", version: SignatureV2, ikey: docIKey, skey: docSKey, req: logReq,
			wantHex: "89f3e7408a441f34a2199e1f9ad041dfdeb322aef6a147abc91ea4332675dd5a7528d26776a9be21c3975d5505db7ff9bf9945a7c049c2c92fbc557a3082e1bc",
		},
		{
			name: "derived auth log GET v5", version: SignatureV5, ikey: docIKey, skey: docSKey, req: logReq,
			wantHex: "84db38c1d2cf11e932c27a2ea84678e11dd057b7159dd719122a55f89d5a5195c0432acf4018187420759d5e824fc371818a5fcc7f51eb25dc3b82fb59f7aa4f",
		},
		{
			name: "derived admin log GET v2 SHA1", version: SignatureV2SHA1, ikey: docIKey, skey: docSKey, req: adminReq,
			wantHex: "2d845b321551be096b532f54cbbb3365509dc0c1",
		},
		{
			name: "derived admin log GET v2 SHA512", version: SignatureV2, ikey: docIKey, skey: docSKey, req: adminReq,
			wantHex: "c686da8e25e6644a7fa0439a9cad7e64e7c8babd1864395aab14cd3a3bb21cdee9a06f48eaceb2af04c06386dcf8bfda1c6ee8ade4f8895f3297d36e3b746acc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantHex != "" {
				got, err := Signature(tt.version, tt.skey, tt.req)
				require.NoError(t, err)
				assert.Equal(t, tt.wantHex, got)
			}
			if tt.wantHdr != "" {
				got, err := Authorization(tt.version, tt.ikey, tt.skey, tt.req)
				require.NoError(t, err)
				assert.Equal(t, tt.wantHdr, got)
			}
		})
	}
}

func TestCanonicalV5(t *testing.T) {
	// TV6 (duo_api_golang TestCanonicalizeV5).
	r := Request{
		Date: "Fri, 07 Dec 2012 17:18:00 -0000", Method: "post", Host: "FOO.example.CoM", Path: "/Foo/BaR2/qux",
		Params: url.Values{"username": {"H ell?o"}},
		Body:   []byte(`{"activation_code":"duo://x1bTAIQGWXppdi2ctPVn-YXBpLWR1bzEuZHVvLnRlc3Q","user_id":"DU439XKOX2W6LMYHWLEV"}`),
	}
	want := "Fri, 07 Dec 2012 17:18:00 -0000\nPOST\nfoo.example.com\n/Foo/BaR2/qux\nusername=H%20ell%3Fo\n" +
		"9ddab7d898836a76fafbb0dcef7bc83f14036b39bbb1ebbe43044f7c76338fa699eba8f0d3ecb329a084f32ef23c8a1609efad25032923b651e6f3f6d2f7b773\n" +
		"cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	assert.Equal(t, want, r.Canonical(SignatureV5))
}

func TestDuoHeaderHash(t *testing.T) {
	// TV7 (duo_client_python test_signature_v5_lowers_and_then_sorts_headers).
	tests := []struct {
		headers map[string]string
		want    string
	}{
		{map[string]string{"X-Duo-Header-1": "header_value_1"}, "630b4bfe7e9abd03da2eee8f0a5d4e60a254ec880a839bcc2223bb5b9443e8ef24d58f0254f1f5934bf8c017ebd0fd5b1acf86766bdbe74185e712a4092df3ed"},
		{map[string]string{"x-duo-A": "header_value_1", "X-Duo-B": "header_value_2"}, "60be11a30e0756f2ee2afdce1db849b987dcf86c1133394bd7bbbc9877920330c4d78aceacbb377ab8cbd9a8efe6a410fed4047376635ac71226ab46ca10d2b1"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, sha512Hex([]byte(canonicalDuoHeaders(tt.headers))), "headers %v", tt.headers)
	}
}

func TestCanonicalParams(t *testing.T) {
	// TV8 (duo_client_python TestQueryParameters, duo_api_golang TestCanonicalize).
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"empty", url.Values{}, ""},
		{"space", url.Values{"realname": {"First Last"}}, "realname=First%20Last"},
		{"sorted", url.Values{"words": {"First Last"}, "success": {"true"}, "digit": {"5"}}, "digit=5&success=true&words=First%20Last"},
		{"prefix keys", url.Values{"foo_bar": {"2"}, "foo": {"1"}}, "foo=1&foo_bar=2"},
		{"repeated key", url.Values{"username": {"H ell?o"}, "password": {"H-._~i", "A(!'*)"}}, "password=A%28%21%27%2A%29&password=H-._~i&username=H%20ell%3Fo"},
		{
			"printable ASCII",
			url.Values{
				"digits":      {"0123456789"},
				"letters":     {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
				"punctuation": {"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
				"whitespace":  {"\t\n\x0b\x0c\r "},
			},
			"digits=0123456789&letters=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ&punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&whitespace=%09%0A%0B%0C%0D%20",
		},
		{"log params", url.Values{"sort": {"ts:asc"}, "next_offset": {"1,a"}}, "next_offset=1%2Ca&sort=ts%3Aasc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, CanonicalParams(tt.params))
		})
	}
}

func TestHashVectors(t *testing.T) {
	// TV9 (duo_api_golang TestHashString).
	assert.Equal(t, "66fabab062974c3dd3f4d27284e41bf8121d71c0e63e95631992062ef5d1a4058403af3482c8c32ae63cd724cbf0aa793a931ef273539ef6f3745751c22f25f6", sha512Hex([]byte(`{"limit":10,"offset":2}`)))
	assert.Equal(t, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e", sha512Hex(nil))
}

func TestSignatureUnknownVersion(t *testing.T) {
	_, err := Signature(SignatureVersion(3), "k", Request{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsupported signature version 3")
}

func FuzzCanonicalParams(f *testing.F) {
	f.Add("realname", "First Last", "username", "root")
	f.Add("", "", "\x00", "\xff\xfe")
	f.Add("a", "ts:asc", "a", "1,b")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		params := url.Values{}
		params.Add(k1, v1)
		params.Add(k2, v2)
		got := CanonicalParams(params)
		// The canonical string is also the query string that is sent: the
		// standard library must read back exactly the parameters signed.
		back, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("ParseQuery(%q): %v", got, err)
		}
		for k, vs := range params {
			if len(back[k]) != len(vs) {
				t.Fatalf("key %q: got %d values back, want %d", k, len(back[k]), len(vs))
			}
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c == ' ' || c == '+' || c >= 0x80 {
				t.Fatalf("CanonicalParams produced unescaped byte %q in %q", c, got)
			}
		}
		if again := CanonicalParams(params); again != got {
			t.Fatalf("not deterministic: %q then %q", got, again)
		}
	})
}
