// RFC 3161 over HTTP(S) with Boost.Beast and OpenSSL's TS API; see tsa_client.h.
#include "daemon/sign/tsa_client.h"

#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/ts.h>

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <utility>

#include "daemon/sign/openssl_util.h"

namespace credd::sign {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A token with a few certificates is a few KiB; anything near this is not a TSA reply.
constexpr std::uint64_t kMaxReplyBytes = 1 << 20;
constexpr char kQueryType[] = "application/timestamp-query";
constexpr std::string_view kReplyType = "application/timestamp-reply";

using Asn1IntegerPtr = OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
using TsMsgImprintPtr = OpenSslPtr<TS_MSG_IMPRINT, TS_MSG_IMPRINT_free>;
using TsReqPtr = OpenSslPtr<TS_REQ, TS_REQ_free>;
using TsRespPtr = OpenSslPtr<TS_RESP, TS_RESP_free>;
using TsVerifyCtxPtr = OpenSslPtr<TS_VERIFY_CTX, TS_VERIFY_CTX_free>;
using X509AlgorPtr = OpenSslPtr<X509_ALGOR, X509_ALGOR_free>;

// The one place Boost.Asio/Beast errors become credd errors: the TSA is unavailable, and
// `where` is the URL so the operator sees which TSA.
Error NetworkError(std::string_view context, const beast::error_code& ec, const std::string& url,
                   std::chrono::seconds timeout) {
  std::string message(context);
  if (ec == beast::error::timeout) {
    message += ": timed out after " + std::to_string(timeout.count()) + " s";
  } else {
    message += ": " + ec.message();
  }
  return MakeError(ErrorCode::kUnavailable, std::move(message), url);
}

struct Url {
  bool tls = false;
  std::string host;       // Without the brackets of an IPv6 literal.
  std::string port;       // Digits; the scheme's default when the URL has none.
  std::string authority;  // As written, for the Host header.
  std::string target;     // Path and query; "/" when the URL has none.
};

// By hand because Boost.URL arrived in Boost 1.81 and Debian 12 has 1.74; only the parts an
// RFC 3161 endpoint needs are accepted.
Result<Url> ParseUrl(const std::string& url) {
  Url parsed;
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
    parsed.port = "80";
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    parsed.tls = true;
    parsed.port = "443";
  } else {
    return MakeError(ErrorCode::kConfig, "the TSA URL must start with http:// or https://", url);
  }
  rest = rest.substr(0, rest.find('#'));
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  std::string_view target = rest.substr(authority.size());
  parsed.authority = std::string(authority);
  parsed.target = target.empty() ? "/" : (target[0] == '?' ? "/" : "") + std::string(target);
  if (authority.find('@') != std::string_view::npos) {
    return MakeError(ErrorCode::kConfig, "user information in the TSA URL is not supported", url);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kConfig, "unterminated IPv6 address in the TSA URL", url);
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') {
      return MakeError(ErrorCode::kConfig, "unexpected text after the IPv6 address", url);
    }
    if (!after.empty()) port = after.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return MakeError(ErrorCode::kConfig, "the TSA URL has no host", url);
  parsed.host = std::string(host);
  if (!port.empty() || authority.ends_with(":")) {
    int number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (error != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
      return MakeError(ErrorCode::kConfig, "the TSA URL has a bad port", url);
    }
    parsed.port = std::string(port);
  }
  return parsed;
}

// A TimeStampReq for SHA-256(data): version 1, a fresh random nonce, certReq so the token
// carries the TSA certificate that verifiers (pdfsig, Adobe) need.
Result<TsReqPtr> MakeRequest(std::string_view data, const std::string& where) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &digest_length, EVP_sha256(), nullptr) !=
      1) {
    return OpenSslError("cannot hash the data to timestamp", where);
  }
  X509AlgorPtr algorithm(X509_ALGOR_new());
  TsMsgImprintPtr imprint(TS_MSG_IMPRINT_new());
  TsReqPtr request(TS_REQ_new());
  if (!algorithm || !imprint || !request ||
      X509_ALGOR_set0(algorithm.get(), OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(imprint.get(), algorithm.get()) != 1 ||
      TS_MSG_IMPRINT_set_msg(imprint.get(), digest.data(), static_cast<int>(digest_length)) != 1 ||
      TS_REQ_set_version(request.get(), 1) != 1 ||
      TS_REQ_set_msg_imprint(request.get(), imprint.get()) != 1 ||
      TS_REQ_set_cert_req(request.get(), 1) != 1) {
    return OpenSslError("cannot build the TimeStampReq", where);
  }
  // The nonce ties the reply to this request, so a replayed or cached answer is refused.
  std::array<unsigned char, 8> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return OpenSslError("cannot draw the TimeStampReq nonce", where);
  }
  BignumPtr number(BN_bin2bn(random.data(), static_cast<int>(random.size()), nullptr));
  Asn1IntegerPtr nonce(number ? BN_to_ASN1_INTEGER(number.get(), nullptr) : nullptr);
  if (!nonce || TS_REQ_set_nonce(request.get(), nonce.get()) != 1) {
    return OpenSslError("cannot set the TimeStampReq nonce", where);
  }
  return request;
}

Result<std::string> RequestDer(TS_REQ* request, const std::string& where) {
  unsigned char* der = nullptr;
  const int length = i2d_TS_REQ(request, &der);
  if (length <= 0) return OpenSslError("cannot encode the TimeStampReq", where);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

// "rejection: <the TSA's text> (badAlg)", for the kData error of a refused request.
std::string DescribeStatus(const TS_STATUS_INFO* info) {
  static constexpr std::array<std::string_view, 6> kStatuses = {
      "granted", "grantedWithMods",   "rejection",
      "waiting", "revocationWarning", "revocationNotification"};
  static constexpr std::array<std::pair<int, std::string_view>, 8> kFailures = {{
      {TS_INFO_BAD_ALG, "badAlg"},
      {TS_INFO_BAD_REQUEST, "badRequest"},
      {TS_INFO_BAD_DATA_FORMAT, "badDataFormat"},
      {TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable"},
      {TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy"},
      {TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension"},
      {TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable"},
      {TS_INFO_SYSTEM_FAILURE, "systemFailure"},
  }};
  const long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(info));
  std::string text = status >= 0 && static_cast<size_t>(status) < kStatuses.size()
                         ? std::string(kStatuses[static_cast<size_t>(status)])
                         : "status " + std::to_string(status);
  const STACK_OF(ASN1_UTF8STRING)* texts = TS_STATUS_INFO_get0_text(info);
  for (int i = 0; texts != nullptr && i < sk_ASN1_UTF8STRING_num(texts); ++i) {
    const ASN1_UTF8STRING* line = sk_ASN1_UTF8STRING_value(texts, i);
    text += i == 0 ? ": " : "; ";
    text.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(line)),
                static_cast<size_t>(ASN1_STRING_length(line)));
  }
  if (const ASN1_BIT_STRING* failure = TS_STATUS_INFO_get0_failure_info(info)) {
    std::string names;
    for (const auto& [bit, name] : kFailures) {
      if (ASN1_BIT_STRING_get_bit(failure, bit) == 1) {
        names += names.empty() ? "" : ", ";
        names += name;
      }
    }
    if (!names.empty()) text += " (" + names + ")";
  }
  return text;
}

// Parses the TimeStampResp and returns the token's DER once it is granted and matches the
// request. The token's signature is checked against the certificate it carries, but that
// certificate's chain is not: the TSA need not be in the system store, and trust in the
// timestamp is the verifier's decision (pdfsig, Adobe, `credctl verify`).
Result<std::string> TokenFromReply(const std::string& reply, TS_REQ* request,
                                   const std::string& where) {
  const auto* cursor = reinterpret_cast<const unsigned char*>(reply.data());
  TsRespPtr response(d2i_TS_RESP(nullptr, &cursor, static_cast<long>(reply.size())));
  if (!response) {
    return OpenSslError("the TSA's reply is not a TimeStampResp", where, ErrorCode::kData);
  }
  const TS_STATUS_INFO* info = TS_RESP_get_status_info(response.get());
  const long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(info));
  if (status != 0 && status != 1) {
    return MakeError(ErrorCode::kData, "the TSA refused the request: " + DescribeStatus(info),
                     where);
  }
  PKCS7* token = TS_RESP_get_token(response.get());
  if (token == nullptr) {
    return MakeError(ErrorCode::kData, "the TSA granted the request but sent no token", where);
  }
  TsVerifyCtxPtr verify(TS_REQ_to_TS_VERIFY_CTX(request, nullptr));
  if (!verify) return OpenSslError("cannot prepare the token check", where);
  // Version, imprint and nonce only: TS_VFY_SIGNATURE would also demand a trusted chain.
  TS_VERIFY_CTX_set_flags(verify.get(), TS_VFY_VERSION | TS_VFY_IMPRINT | TS_VFY_NONCE);
  if (TS_RESP_verify_response(verify.get(), response.get()) != 1) {
    return OpenSslError("the TSA's token does not match the request", where, ErrorCode::kData);
  }
  if (PKCS7_verify(token, nullptr, nullptr, nullptr, nullptr, PKCS7_NOVERIFY) != 1) {
    return OpenSslError("the TSA's token signature does not verify", where, ErrorCode::kData);
  }
  unsigned char* der = nullptr;
  const int length = i2d_PKCS7(token, &der);
  if (length <= 0) return OpenSslError("cannot encode the TimeStampToken", where);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

// Starts one asynchronous operation and runs the context until it completes. The stream's
// expiry (tcp_stream::expires_at) cancels a stalled operation with beast::error::timeout;
// Beast applies it only to asynchronous operations, hence async calls run to completion
// here rather than the blocking ones.
template <typename Start>
beast::error_code RunToCompletion(asio::io_context& context, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  context.restart();
  context.run();
  return result;
}

// Connects (and shakes hands, for TLS), sends the query and reads the reply, all before
// `deadline`.
template <typename Stream>
Result<http::response<http::string_body>> Exchange(asio::io_context& context, Stream& stream,
                                                   const tcp::resolver::results_type& endpoints,
                                                   const http::request<http::string_body>& query,
                                                   Clock::time_point deadline,
                                                   const std::string& url,
                                                   std::chrono::seconds timeout) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_at(deadline);
  beast::error_code ec = RunToCompletion(
      context, [&](auto handler) { tcp_layer.async_connect(endpoints, std::move(handler)); });
  if (ec) return NetworkError("cannot connect to the TSA", ec, url, timeout);
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    ec = RunToCompletion(context, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) return NetworkError("TLS handshake with the TSA failed", ec, url, timeout);
  }
  ec = RunToCompletion(context,
                       [&](auto handler) { http::async_write(stream, query, std::move(handler)); });
  if (ec) return NetworkError("cannot send the request to the TSA", ec, url, timeout);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  ec = RunToCompletion(
      context, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) return NetworkError("cannot read the TSA's reply", ec, url, timeout);
  // No TLS close_notify exchange: the reply is complete as framed by HTTP, and a TSA that
  // never answers the shutdown would only make us wait out the deadline.
  return parser.release();
}

Result<http::response<http::string_body>> Post(const Url& target, std::string body,
                                               const std::string& url,
                                               std::chrono::seconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  asio::io_context context;
  tcp::resolver resolver(context);
  beast::error_code ec;
  const tcp::resolver::results_type endpoints = resolver.resolve(target.host, target.port, ec);
  if (ec) return NetworkError("cannot resolve the TSA host " + target.host, ec, url, timeout);

  http::request<http::string_body> query(http::verb::post, target.target, 11);
  query.set(http::field::host, target.authority);
  query.set(http::field::user_agent, "credd");
  query.set(http::field::content_type, kQueryType);
  query.set(http::field::accept, kReplyType.data());
  query.keep_alive(false);
  query.body() = std::move(body);
  query.prepare_payload();

  if (!target.tls) {
    beast::tcp_stream stream(context);
    return Exchange(context, stream, endpoints, query, deadline, url, timeout);
  }
  ssl::context tls(ssl::context::tls_client);
  tls.set_default_verify_paths(ec);
  if (ec) return NetworkError("cannot load the system certificate store", ec, url, timeout);
  tls.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(context, tls);
  stream.set_verify_callback(ssl::host_name_verification(target.host));
  // SNI carries host names only; an address literal is sent without it (RFC 6066 section 3).
  beast::error_code not_an_address;
  asio::ip::make_address(target.host, not_an_address);
  // SSL_ctrl spelled out: the SSL_set_tlsext_host_name macro hides an old-style cast.
  if (not_an_address &&
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(target.host.c_str())) != 1) {
    return OpenSslError("cannot set the TLS server name", url);
  }
  return Exchange(context, stream, endpoints, query, deadline, url, timeout);
}

// "application/timestamp-reply", ignoring case and any parameters.
bool IsReplyType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  if (content_type.size() != kReplyType.size()) return false;
  for (size_t i = 0; i < content_type.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(content_type[i])) != kReplyType[i]) return false;
  }
  return true;
}

}  // namespace

TsaClient::TsaClient(std::string url, std::chrono::seconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

Result<std::string> TsaClient::Timestamp(std::string_view data) const {
  // Asio and Beast report through error codes here, but allocation and a few constructors
  // (ssl::context) still throw; nothing may leave the module as an exception.
  try {
    Result<Url> target = ParseUrl(url_);
    if (!target) return target.error();
    Result<TsReqPtr> request = MakeRequest(data, url_);
    if (!request) return request.error();
    Result<std::string> query = RequestDer(request->get(), url_);
    if (!query) return query.error();
    Result<http::response<http::string_body>> reply =
        Post(*target, std::move(query).value(), url_, timeout_);
    if (!reply) return reply.error();
    if (reply->result() != http::status::ok) {
      return MakeError(ErrorCode::kUnavailable,
                       "the TSA answered HTTP " + std::to_string(reply->result_int()) + " " +
                           std::string(reply->reason()),
                       url_);
    }
    const beast::string_view field = (*reply)[http::field::content_type];
    const std::string_view content_type(field.data(), field.size());
    if (!IsReplyType(content_type)) {
      return MakeError(ErrorCode::kData,
                       "the TSA answered Content-Type \"" + std::string(content_type) + "\", not " +
                           std::string(kReplyType),
                       url_);
    }
    return TokenFromReply(reply->body(), request->get(), url_);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("TSA client failure: ") + e.what(), url_);
  }
}

}  // namespace credd::sign
