// The HTTP module's pure parts: requests' helpers, the router, client addresses behind
// proxies, the per-client limit (on a pinned clock), the verify form, and the pages.
#include <gtest/gtest.h>

#include <chrono>

#include "common/clock.h"
#include "daemon/http/admin_routes.h"
#include "daemon/http/client_address.h"
#include "daemon/http/message.h"
#include "daemon/http/pages.h"
#include "daemon/http/rate_limiter.h"
#include "daemon/http/router.h"
#include "daemon/http/verify_routes.h"
#include "daemon/http/web.h"

namespace credd::http {
namespace {

using boost::asio::ip::make_address;

TEST(HttpMessage, DecodesQueriesAndForms) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b+c", true, &out));
  EXPECT_EQ(out, "a b c");
  EXPECT_TRUE(PercentDecode("a+b", false, &out));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("bad%2", true, &out));
  EXPECT_FALSE(PercentDecode("bad%zz", true, &out));
  EXPECT_EQ(FormValue("lang=fr&x=%C3%A9t%C3%A9", "x"), "été");
  EXPECT_EQ(FormValue("lang=fr&x=1", "y"), "");
  Request r;
  r.headers = {{"content-TYPE", "text/plain"}};
  EXPECT_EQ(r.Header("Content-Type"), "text/plain");
  EXPECT_EQ(r.Header("Accept"), "");
}

TEST(HttpMessage, ChoosesThePageLanguage) {
  struct Case {
    std::string query;
    std::string accept;
    std::string want;
  };
  const Case cases[] = {
      {"", "", "en"},
      {"", "fr-CA,fr;q=0.9,en;q=0.8", "fr"},
      {"", "en-CA,en;q=0.9,fr;q=0.8", "en"},
      {"", "de,fr;q=0.5", "fr"},
      {"", "de", "en"},
      {"", "fry", "en"},  // Western Frisian, not French.
      {"", "en;q=0.2, fr;q=0.7", "fr"},
      {"lang=en", "fr", "en"},
      {"lang=fr", "en", "fr"},
      {"lang=de", "fr", "fr"},
  };
  for (const Case& c : cases) {
    Request r;
    r.query = c.query;
    if (!c.accept.empty()) r.headers = {{"Accept-Language", c.accept}};
    EXPECT_EQ(PageLanguage(r), c.want) << c.query << " / " << c.accept;
  }
}

TEST(HttpRouter, MatchesPatternsMethodsAndParameters) {
  Router router;
  router.Add({"GET", "/verify", [](const Request&) { return Response::Text(200, "a"); }});
  router.Add(
      {"GET", "/verify/{document_id}", [](const Request&) { return Response::Text(200, "b"); }});
  router.Add({"POST", "/verify", [](const Request&) { return Response::Text(200, "c"); }});
  Match m = router.Find("GET", "/verify/abc");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/verify/{document_id}");
  EXPECT_EQ(m.params["document_id"], "abc");
  EXPECT_EQ(router.Find("HEAD", "/verify").route->pattern, "/verify");
  EXPECT_EQ(router.Find("POST", "/verify/").route->method, "POST");
  m = router.Find("DELETE", "/verify");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, POST");
  m = router.Find("GET", "/verify/a/b");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.status, 404);
}

TEST(HttpClientAddress, BelievesForwardedHeadersOnlyFromTrustedProxies) {
  auto proxies = TrustedProxies::Parse({"127.0.0.1", "10.0.0.0/8", "fd00::/8"});
  ASSERT_TRUE(proxies);
  // An untrusted peer: its headers are ignored.
  ClientView v =
      ResolveClient(make_address("203.0.113.9"), false, "198.51.100.1", "https", *proxies);
  EXPECT_EQ(v.address, "203.0.113.9");
  EXPECT_FALSE(v.secure);
  // A trusted proxy: the rightmost address that is not a proxy is the client, whatever the
  // client itself put at the left.
  v = ResolveClient(make_address("127.0.0.1"), false, "1.2.3.4, 198.51.100.7, 10.1.2.3", "https",
                    *proxies);
  EXPECT_EQ(v.address, "198.51.100.7");
  EXPECT_TRUE(v.secure);
  // Only proxies: the leftmost.
  v = ResolveClient(make_address("127.0.0.1"), false, "10.0.0.5", "", *proxies);
  EXPECT_EQ(v.address, "10.0.0.5");
  // Garbage stops the walk at the last good address.
  v = ResolveClient(make_address("127.0.0.1"), false, "nonsense, 10.9.9.9", "", *proxies);
  EXPECT_EQ(v.address, "10.9.9.9");
  // IPv4-mapped peers are IPv4 peers.
  v = ResolveClient(make_address("::ffff:127.0.0.1"), true, "198.51.100.8", "", *proxies);
  EXPECT_EQ(v.address, "198.51.100.8");
  EXPECT_TRUE(v.secure);
  v = ResolveClient(make_address("fd12::1"), false, "2001:db8::7", "", *proxies);
  EXPECT_EQ(v.address, "2001:db8::7");
  auto bad = TrustedProxies::Parse({"10.0.0.0/33"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, "http.trusted_proxies");
  EXPECT_FALSE(TrustedProxies::Parse({"proxy.example"}));
}

TEST(HttpRateLimiter, CountsPerAddressPerMinute) {
  PinnedClock clock(std::chrono::system_clock::now());
  RateLimiter limiter(3, clock);
  EXPECT_EQ(limiter.Take("a"), 0);
  EXPECT_EQ(limiter.Take("a"), 0);
  EXPECT_EQ(limiter.Take("a"), 0);
  EXPECT_EQ(limiter.Take("a"), 60);
  EXPECT_EQ(limiter.Take("b"), 0);  // Another address has its own window.
  clock.Advance(std::chrono::seconds(45));
  EXPECT_EQ(limiter.Take("a"), 15);
  clock.Advance(std::chrono::seconds(15));
  EXPECT_EQ(limiter.Take("a"), 0);  // A new window.
  RateLimiter off(0, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(off.Take("a"), 0);
}

TEST(HttpRateLimiter, PeeksWithoutCountingAndTakesAWindowOfItsOwn) {
  PinnedClock clock(std::chrono::system_clock::now());
  RateLimiter failures(2, clock, std::chrono::minutes(15));
  EXPECT_EQ(failures.Peek("x@college.example"), 0);
  EXPECT_EQ(failures.Take("x@college.example"), 0);
  EXPECT_EQ(failures.Take("x@college.example"), 0);
  EXPECT_EQ(failures.Peek("x@college.example"), 900);  // Paused for the whole window.
  EXPECT_EQ(failures.Peek("x@college.example"), 900);  // Peeking counts nothing.
  clock.Advance(std::chrono::minutes(14));
  EXPECT_EQ(failures.Peek("x@college.example"), 60);
  clock.Advance(std::chrono::minutes(1));
  EXPECT_EQ(failures.Peek("x@college.example"), 0);
}

TEST(HttpWeb, ReadsCookiesAndWritesHostCookies) {
  Request request;
  request.headers = {{"cookie", "a=1; __Host-credd_session=tok=en; b=2"}, {"Cookie", "c=3"}};
  EXPECT_EQ(CookieValue(request, "__Host-credd_session"), "tok=en");
  EXPECT_EQ(CookieValue(request, "c"), "3");
  EXPECT_EQ(CookieValue(request, "__Host-credd"), "");  // Names match whole.
  EXPECT_EQ(HostCookie("__Host-x", "v", -1), "__Host-x=v; Path=/; Secure; HttpOnly; SameSite=Lax");
  EXPECT_EQ(HostCookie("__Host-x", "", 0),
            "__Host-x=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
}

TEST(HttpWeb, ReadsFormsAndChecksCsrfTokens) {
  Request request;
  request.body = "csrf=abc%2Bdef&document=1&document=2&note=a+b%21&broken=%zz&empty=";
  const Form form(request);
  EXPECT_EQ(form.Get("csrf"), "abc+def");
  EXPECT_EQ(form.All("document"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(form.Get("note"), "a b!");
  EXPECT_EQ(form.Get("broken"), "");  // A malformed escape is no value.
  EXPECT_EQ(form.Get("missing"), "");
  Visitor visitor;
  visitor.csrf = "abc+def";
  EXPECT_TRUE(CsrfOk(visitor, form));
  visitor.csrf = "abc+deg";
  EXPECT_FALSE(CsrfOk(visitor, form));
  visitor.form_token = "abc+def";  // A form loaded before sign-in.
  EXPECT_TRUE(CsrfOk(visitor, form));
  visitor = Visitor{};
  EXPECT_FALSE(CsrfOk(visitor, Form(Request{})));  // No token anywhere is never a match.
  EXPECT_TRUE(SameSecret("same", "same"));
  EXPECT_FALSE(SameSecret("same", "sam"));
}

TEST(HttpPages, TheLanguageSwitchKeepsThePagesQuery) {
  auto pages = Pages::Load(std::string(CREDD_SOURCE_DIR) + "/templates");
  ASSERT_TRUE(pages) << pages.error().ToString();
  Response res = (*pages)->Render(200, "message", "en", "/activate?token=abc&",
                                  {{"title", "t"}, {"message", "m"}});
  EXPECT_NE(res.body.find("href=\"/activate?token=abc&amp;lang=fr\""), std::string::npos)
      << res.body;
  // Every page has both languages (Load refuses otherwise) and an empty value skips its
  // section.
  Response empty = (*pages)->Render(200, "signin", "fr", "/signin", {{"problem", ""}});
  EXPECT_EQ(empty.body.find("role=\"alert\""), std::string::npos);
}

TEST(HttpVerifyForm, ReadsTheFileAndFields) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"lang\"\r\n\r\nfr\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"pdf\"; filename=\"d.pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\nbinary\r\n--XyZ--\r\n";
  std::string pdf;
  std::map<std::string, std::string> fields;
  std::string problem;
  ASSERT_TRUE(ParseVerifyForm("multipart/form-data; boundary=XyZ", body, &pdf, &fields, &problem))
      << problem;
  EXPECT_EQ(pdf, "%PDF-1.7\r\nbinary");
  EXPECT_EQ(fields["lang"], "fr");
  pdf.clear();
  EXPECT_FALSE(ParseVerifyForm("application/pdf", body, &pdf, &fields, &problem));
  EXPECT_FALSE(ParseVerifyForm("multipart/form-data; boundary=XyZ", "--XyZ\r\ngarbage", &pdf,
                               &fields, &problem));
}

TEST(HttpPages, RenderBothLanguagesInTheLayout) {
  auto pages = Pages::Load(std::string(CREDD_SOURCE_DIR) + "/templates");
  ASSERT_TRUE(pages) << pages.error().ToString();
  Response en = (*pages)->Render(200, "verify", "en", "/verify", {{"title", "Verify <x>"}});
  EXPECT_EQ(en.content_type, "text/html; charset=utf-8");
  EXPECT_NE(en.body.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(en.body.find("Verify &lt;x&gt;"), std::string::npos);  // Escaped.
  EXPECT_NE(en.body.find("href=\"/verify?lang=fr\""), std::string::npos);
  EXPECT_NE(en.body.find("enctype=\"multipart/form-data\""), std::string::npos);
  Response fr = (*pages)->Render(200, "verify", "fr", "/verify", {{"title", "Vérifier"}});
  EXPECT_NE(fr.body.find("<html lang=\"fr\">"), std::string::npos);
  EXPECT_NE(fr.body.find("href=\"/verify?lang=en\""), std::string::npos);
  EXPECT_FALSE((*pages)->stylesheet().empty());
  EXPECT_FALSE(Pages::Load("/nonexistent"));
}

TEST(HttpAdminTokens, ParseLabelsAndCheckBearerTokens) {
  const std::string a(40, 'a');
  const std::string b(32, 'b');
  auto tokens = AdminTokens::Parse(
      "# desk and the SIS job\n\ndesk:" + a + "\r\nsis-job:" + b + "\n", "admin.tokens");
  ASSERT_TRUE(tokens) << tokens.error().ToString();
  EXPECT_EQ(tokens->size(), 2u);
  EXPECT_EQ(tokens->Check("Bearer " + a), "desk");
  EXPECT_EQ(tokens->Check("Bearer " + b), "sis-job");
  EXPECT_EQ(tokens->Check("Bearer " + b + "b"), "");
  EXPECT_EQ(tokens->Check("Basic " + a), "");
  EXPECT_EQ(tokens->Check(""), "");
  EXPECT_EQ(tokens->Check("Bearer "), "");
  struct Bad {
    std::string text;
    std::string where;
  };
  const Bad bad[] = {{"desk " + a, "admin.tokens:1"},
                     {"desk:short", "admin.tokens:1"},
                     {"\nDesk:" + a, "admin.tokens:2"},
                     {"desk:" + a + "\ndesk:" + b, "admin.tokens:2"}};
  for (const Bad& c : bad) {
    auto parsed = AdminTokens::Parse(c.text, "admin.tokens");
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_EQ(parsed.error().where, c.where) << c.text;
  }
  auto none = AdminTokens::Parse("", "x");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Check("Bearer " + a), "");
}

}  // namespace
}  // namespace credd::http
