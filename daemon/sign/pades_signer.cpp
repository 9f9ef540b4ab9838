// PAdES signer: qpdf reads the input (read-only); the incremental update and the CMS
// SignedData are written here. See README.md for why the update writer is hand-written.
#include "daemon/sign/pades_signer.h"

#include <openssl/cms.h>
#include <openssl/ess.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <ctime>
#include <map>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFObjectHandle.hh>
#include <set>
#include <vector>

#include "common/time_format.h"
#include "daemon/sign/openssl_util.h"
#include "daemon/sign/pdf_signature.h"
#include "daemon/sign/qpdf_error.h"

namespace credd::sign {
namespace {

// "[0 a b c]" is written into a field this wide and padded with spaces, so the final
// numbers can be filled in without moving a byte.
constexpr std::size_t kByteRangeWidth = 64;
// Signed attributes, SignerInfo and SignedData framing on top of certificates and the
// signature value; generous, since unused space is only zeros.
constexpr std::size_t kCmsOverheadBytes = 4096;
// The largest object number PDF allows (ISO 32000-1, annex C), and how many new objects
// an update adds at most (signature, field, AcroForm, xref stream).
constexpr std::int64_t kMaxObjectNumber = 8388607;
constexpr std::int64_t kUpdateObjects = 4;

// One object the update writes: a new version of an existing one, or a new one.
struct UpdateObject {
  int id = 0;
  int generation = 0;
  std::string body;  // Between "N G obj" and "endobj".
};

// What the update needs to know about the input, read with qpdf.
struct UpdatePlan {
  std::vector<UpdateObject> objects;  // Bodies of everything except the signature dict.
  int signature_id = 0;
  int next_id = 0;  // The first free object number after the update's objects.
  std::string root_ref;
  std::string info_ref;  // Empty when the trailer has no /Info.
  std::string id_array;  // Empty when the trailer has no /ID.
  std::size_t previous_xref = 0;
  bool xref_stream = false;
};

std::string Ref(int id, int generation = 0) {
  return std::to_string(id) + " " + std::to_string(generation) + " R";
}

// A dictionary's text with some keys replaced (or added); values keep their indirect
// references because QPDFObjectHandle::unparse writes "N G R" for them.
std::string UnparseDictionary(QPDFObjectHandle dictionary,
                              const std::map<std::string, std::string>& replacements) {
  std::string text = "<<";
  for (const std::string& key : dictionary.getKeys()) {
    if (replacements.count(key) != 0) continue;
    text += " " + QPDFObjectHandle::newName(key).unparse() + " " + dictionary.getKey(key).unparse();
  }
  for (const auto& [key, value] : replacements) {
    text += " " + QPDFObjectHandle::newName(key).unparse() + " " + value;
  }
  return text + " >>";
}

// An array's text (or an empty one for a non-array) with one reference appended.
std::string UnparseArrayAppending(QPDFObjectHandle array, const std::string& reference) {
  std::string text = "[";
  if (array.isArray()) {
    for (QPDFObjectHandle& item : array.getArrayAsVector()) text += item.unparse() + " ";
  }
  return text + reference + "]";
}

// Adds `reference` to the array held at dictionary[key]. When that array is an indirect
// object, the array object itself is rewritten and the dictionary is left alone; otherwise
// the returned text is the new value for dictionary[key].
std::string AppendToArrayEntry(QPDFObjectHandle dictionary, const std::string& key,
                               const std::string& reference, UpdatePlan& plan) {
  QPDFObjectHandle array = dictionary.getKey(key);
  if (array.isIndirect() && array.isArray()) {
    plan.objects.push_back(
        {array.getObjectID(), array.getGeneration(), UnparseArrayAppending(array, reference)});
    return array.unparse();
  }
  return UnparseArrayAppending(array, reference);
}

// The top-level field names already taken, so the new field does not merge with one.
std::set<std::string> FieldNames(QPDFObjectHandle acro_form) {
  std::set<std::string> names;
  QPDFObjectHandle fields =
      acro_form.isDictionary() ? acro_form.getKey("/Fields") : QPDFObjectHandle::newNull();
  if (!fields.isArray()) return names;
  for (QPDFObjectHandle& field : fields.getArrayAsVector()) {
    if (field.isDictionary() && field.getKey("/T").isString()) {
      names.insert(field.getKey("/T").getUTF8Value());
    }
  }
  return names;
}

// The startxref offset and whether it points at a cross-reference table ("xref") or at a
// cross-reference stream object ("N G obj").
Result<std::pair<std::size_t, bool>> LastXref(std::string_view pdf, const std::string& where) {
  const std::size_t keyword = pdf.rfind("startxref");
  if (keyword == std::string_view::npos) {
    return MakeError(ErrorCode::kData, "not a valid PDF: no startxref", where);
  }
  std::size_t position = keyword + 9;
  while (position < pdf.size() && std::isspace(static_cast<unsigned char>(pdf[position]))) {
    ++position;
  }
  std::size_t offset = 0;
  bool digits = false;
  for (; position < pdf.size() && std::isdigit(static_cast<unsigned char>(pdf[position]));
       ++position) {
    offset = offset * 10 + static_cast<std::size_t>(pdf[position] - '0');
    digits = true;
    if (offset > pdf.size()) break;
  }
  if (!digits || offset >= pdf.size()) {
    return MakeError(ErrorCode::kData, "not a valid PDF: startxref points outside the file", where);
  }
  if (pdf.substr(offset, 4) == "xref") return std::pair{offset, false};
  if (std::isdigit(static_cast<unsigned char>(pdf[offset]))) return std::pair{offset, true};
  return MakeError(ErrorCode::kData,
                   "not a valid PDF: startxref " + std::to_string(offset) +
                       " points at neither an xref table nor an xref stream",
                   where);
}

// Reads what the update must reference or rewrite. Object numbers: signature dictionary,
// then the field/widget, then (if needed) a new AcroForm.
Result<UpdatePlan> PlanUpdate(std::string_view pdf, const SignOptions& options,
                              std::string& field_name, std::string& page_ref) {
  const std::string& where = options.where;
  auto last_xref = LastXref(pdf, where);
  if (!last_xref) return last_xref.error();
  try {
    QPDF qpdf;
    qpdf.setSuppressWarnings(true);
    qpdf.processMemoryFile(where.empty() ? "input.pdf" : where.c_str(), pdf.data(), pdf.size());
    if (qpdf.isEncrypted()) {
      return MakeError(ErrorCode::kData,
                       "encrypted PDFs cannot be signed: decrypt it first (qpdf --decrypt)", where);
    }
    QPDFObjectHandle trailer = qpdf.getTrailer();
    QPDFObjectHandle root = trailer.getKey("/Root");
    if (!root.isIndirect() || !root.isDictionary()) {
      return MakeError(ErrorCode::kData, "not a valid PDF: the trailer has no /Root", where);
    }
    const std::vector<QPDFObjectHandle>& pages = qpdf.getAllPages();
    if (pages.empty() || !pages.front().isIndirect()) {
      return MakeError(ErrorCode::kData, "not a valid PDF: it has no pages", where);
    }
    QPDFObjectHandle page = pages.front();
    QPDFObjectHandle acro_form = root.getKey("/AcroForm");
    const std::set<std::string> taken = FieldNames(acro_form);
    // A damaged file is read by qpdf through a rebuilt xref, which the update's /Prev
    // could not point at; signing it would produce a file every checker complains about.
    // qpdf reads objects lazily, so every object is read here: damage in one that the
    // update does not touch (a font, say) still makes verifiers rebuild the xref, and then
    // they may not find the signature at all.
    if (!options.rendered_here) {
      for (QPDFObjectHandle& object : qpdf.getAllObjects()) (void)object.getTypeCode();
    }
    if (qpdf.anyWarnings()) {
      std::vector<QPDFExc> warnings = qpdf.getWarnings();
      return MakeError(ErrorCode::kData,
                       "damaged PDF cannot be signed incrementally: " +
                           warnings.front().getMessageDetail() + " (repair it first)",
                       where);
    }

    UpdatePlan plan;
    plan.previous_xref = last_xref->first;
    plan.xref_stream = last_xref->second;
    plan.root_ref = root.unparse();
    if (trailer.getKey("/Info").isIndirect()) plan.info_ref = trailer.getKey("/Info").unparse();
    if (trailer.getKey("/ID").isArray()) plan.id_array = trailer.getKey("/ID").unparse();

    // New objects go after both /Size and the highest number in use, whichever is larger.
    // Counted in 64 bits: both come from the file and may sit at INT_MAX.
    std::int64_t first_free =
        trailer.getKey("/Size").isInteger() ? trailer.getKey("/Size").getIntValue() : 1;
    for (const auto& [object, entry] : qpdf.getXRefTable()) {
      first_free = std::max<std::int64_t>(first_free, std::int64_t{object.getObj()} + 1);
    }
    if (first_free < 1 || first_free > kMaxObjectNumber - kUpdateObjects) {
      return MakeError(ErrorCode::kData,
                       "not a valid PDF: object number " + std::to_string(first_free) +
                           " leaves no room for the signature's objects (the PDF limit is " +
                           std::to_string(kMaxObjectNumber) + ")",
                       where);
    }
    int next_id = static_cast<int>(first_free);
    plan.signature_id = next_id++;
    const int field_id = next_id++;

    // "Signature1" taken: try "Signature2", and so on.
    field_name = options.field_name.empty() ? "Signature1" : options.field_name;
    const std::string base = field_name.substr(0, field_name.find_last_not_of("0123456789") + 1);
    for (int suffix = 2; taken.count(field_name) != 0; ++suffix) {
      field_name = base + std::to_string(suffix);
    }
    page_ref = page.unparse();

    // Page 1 lists the widget in /Annots.
    std::map<std::string, std::string> page_changes;
    const std::string annots = AppendToArrayEntry(page, "/Annots", Ref(field_id), plan);
    if (!page.getKey("/Annots").isIndirect()) {
      page_changes["/Annots"] = annots;
      plan.objects.push_back(
          {page.getObjectID(), page.getGeneration(), UnparseDictionary(page, page_changes)});
    }

    // The catalog's /AcroForm lists the field, keeping whatever the form already had.
    if (acro_form.isDictionary()) {
      std::map<std::string, std::string> form_changes;
      const std::string fields = AppendToArrayEntry(acro_form, "/Fields", Ref(field_id), plan);
      if (!acro_form.getKey("/Fields").isIndirect()) form_changes["/Fields"] = fields;
      form_changes["/SigFlags"] = "3";
      const std::string form_text = UnparseDictionary(acro_form, form_changes);
      if (acro_form.isIndirect()) {
        plan.objects.push_back({acro_form.getObjectID(), acro_form.getGeneration(), form_text});
      } else {
        plan.objects.push_back({root.getObjectID(), root.getGeneration(),
                                UnparseDictionary(root, {{"/AcroForm", form_text}})});
      }
    } else {
      const int form_id = next_id++;
      plan.objects.push_back({form_id, 0, "<< /Fields [" + Ref(field_id) + "] /SigFlags 3 >>"});
      plan.objects.push_back({root.getObjectID(), root.getGeneration(),
                              UnparseDictionary(root, {{"/AcroForm", Ref(form_id)}})});
    }

    // The invisible widget, merged with its field (one dictionary is both).
    plan.objects.push_back({field_id, 0,
                            "<< /Type /Annot /Subtype /Widget /FT /Sig /T " +
                                QPDFObjectHandle::newUnicodeString(field_name).unparse() + " /V " +
                                Ref(plan.signature_id) + " /Rect [0 0 0 0] /F 132 /P " + page_ref +
                                " >>"});
    plan.next_id = next_id;
    return plan;
  } catch (const std::exception& e) {
    return QpdfError(e, where);
  }
}

// Object numbers as xref subsections: "first count" runs of consecutive numbers.
std::vector<std::pair<int, int>> XrefRuns(const std::vector<int>& sorted_ids) {
  std::vector<std::pair<int, int>> runs;
  for (const int id : sorted_ids) {
    if (!runs.empty() && runs.back().first + runs.back().second == id) {
      ++runs.back().second;
    } else {
      runs.emplace_back(id, 1);
    }
  }
  return runs;
}

// Appends the update's cross-reference section and trailer, in the same kind as the
// input's last one: a reader that follows /Prev never meets a table pointing at a stream.
void WriteXref(std::string& out, const UpdatePlan& plan,
               std::map<int, std::pair<int, std::size_t>> entries) {
  std::string trailer_keys = " /Root " + plan.root_ref;
  if (!plan.info_ref.empty()) trailer_keys += " /Info " + plan.info_ref;
  if (!plan.id_array.empty()) trailer_keys += " /ID " + plan.id_array;
  trailer_keys += " /Prev " + std::to_string(plan.previous_xref);

  const std::size_t xref_offset = out.size();
  if (!plan.xref_stream) {
    std::vector<int> ids;
    for (const auto& entry : entries) ids.push_back(entry.first);
    out += "xref\n";
    for (const auto& [first, count] : XrefRuns(ids)) {
      out += std::to_string(first) + " " + std::to_string(count) + "\n";
      for (int id = first; id < first + count; ++id) {
        char line[32];
        std::snprintf(line, sizeof line, "%010zu %05d n \n", entries[id].second, entries[id].first);
        out += line;
      }
    }
    out += "trailer\n<< /Size " + std::to_string(plan.next_id) + trailer_keys + " >>\nstartxref\n" +
           std::to_string(xref_offset) + "\n%%EOF\n";
    return;
  }
  // The stream lists itself too; it takes the next free number.
  const int xref_id = plan.next_id;
  entries[xref_id] = {0, xref_offset};
  int offset_width = 1;
  while (offset_width < 8 && (xref_offset >> (8 * offset_width)) != 0) ++offset_width;
  std::string data;
  std::vector<int> ids;
  for (const auto& [id, entry] : entries) {
    ids.push_back(id);
    data += '\x01';
    for (int shift = offset_width - 1; shift >= 0; --shift) {
      data += static_cast<char>((entry.second >> (8 * shift)) & 0xff);
    }
    data += static_cast<char>((entry.first >> 8) & 0xff);
    data += static_cast<char>(entry.first & 0xff);
  }
  std::string index;
  for (const auto& [first, count] : XrefRuns(ids)) {
    index += (index.empty() ? "" : " ") + std::to_string(first) + " " + std::to_string(count);
  }
  out += std::to_string(xref_id) + " 0 obj\n<< /Type /XRef /Size " + std::to_string(xref_id + 1) +
         " /W [1 " + std::to_string(offset_width) + " 2] /Index [" + index + "]" + trailer_keys +
         " /Length " + std::to_string(data.size()) + " >>\nstream\n" + data +
         "\nendstream\nendobj\n" + "startxref\n" + std::to_string(xref_offset) + "\n%%EOF\n";
}

Result<std::string> Der(CMS_ContentInfo* cms, const std::string& where) {
  unsigned char* der = nullptr;
  const int length = i2d_CMS_ContentInfo(cms, &der);
  if (length <= 0) return OpenSslError("cannot encode the CMS signature", where);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

// The CMS SignedData over a precomputed content digest. OpenSSL's CMS_SignerInfo_sign
// always adds a signingTime attribute, which PAdES baseline forbids (the time is /M), so
// the signed attributes are encoded and signed here with the same DER rules it uses.
Result<std::string> BuildCms(const SigningKey& key, const std::array<unsigned char, 32>& digest,
                             const SignOptions& options) {
  const std::string& where = options.where;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY));
  if (!cms || CMS_set_detached(cms.get(), 1) != 1) {
    return OpenSslError("cannot create the CMS structure", where);
  }
  CMS_SignerInfo* signer = CMS_add1_signer(cms.get(), key.certificate(), key.private_key(),
                                           EVP_sha256(), CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
  if (signer == nullptr) return OpenSslError("cannot add the CMS signer", where);
  for (std::size_t i = 1; i < key.chain().size(); ++i) {
    if (CMS_add1_cert(cms.get(), key.chain()[i].get()) != 1) {
      return OpenSslError("cannot add a chain certificate to the CMS", where);
    }
  }

  // ESS signing-certificate-v2 binds the signer certificate to the signature (CAdES).
  // OpenSSL 3.0 builds the value (hashAlgorithm omitted for the SHA-256 default, with
  // issuerSerial) but only its TS code attaches it, so it is added as a raw attribute.
  OpenSslPtr<ESS_SIGNING_CERT_V2, ESS_SIGNING_CERT_V2_free> signing_certificate(
      OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), key.certificate(), nullptr, 1));
  unsigned char* ess_der = nullptr;
  const int ess_length =
      signing_certificate ? i2d_ESS_SIGNING_CERT_V2(signing_certificate.get(), &ess_der) : -1;
  if (ess_length <= 0) return OpenSslError("cannot encode signingCertificateV2", where);
  const bool attributes_added =
      CMS_signed_add1_attr_by_NID(signer, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                  OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
      CMS_signed_add1_attr_by_NID(signer, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
                                  digest.data(), static_cast<int>(digest.size())) == 1 &&
      CMS_signed_add1_attr_by_NID(signer, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE,
                                  ess_der, ess_length) == 1;
  OPENSSL_free(ess_der);
  if (!attributes_added) return OpenSslError("cannot add the signed attributes", where);

  // DER of SET OF Attribute, sorted as DER requires: PKCS7_ATTR_SIGN is the public ASN.1
  // item with the same template as CMS's internal CMS_Attributes_Sign.
  STACK_OF(X509_ATTRIBUTE)* attributes = sk_X509_ATTRIBUTE_new_null();
  for (int i = 0; attributes != nullptr && i < CMS_signed_get_attr_count(signer); ++i) {
    sk_X509_ATTRIBUTE_push(attributes, CMS_signed_get_attr(signer, i));
  }
  unsigned char* to_sign = nullptr;
  const int to_sign_length = attributes == nullptr
                                 ? -1
                                 : ASN1_item_i2d(reinterpret_cast<ASN1_VALUE*>(attributes),
                                                 &to_sign, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
  sk_X509_ATTRIBUTE_free(attributes);  // The attributes themselves belong to the signer.
  if (to_sign_length <= 0) return OpenSslError("cannot encode the signed attributes", where);
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> to_sign_owner(
      to_sign, [](unsigned char* p) { OPENSSL_free(p); });

  EvpMdCtxPtr context(EVP_MD_CTX_new());
  std::size_t signature_length = 0;
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.private_key()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &signature_length, to_sign,
                     static_cast<std::size_t>(to_sign_length)) != 1) {
    return OpenSslError("cannot start signing", where);
  }
  std::string signature(signature_length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()),
                     &signature_length, to_sign, static_cast<std::size_t>(to_sign_length)) != 1) {
    return OpenSslError("the signing key refused to sign", where);
  }
  signature.resize(signature_length);
  if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(signer), signature.data(),
                      static_cast<int>(signature.size())) != 1) {
    return OpenSslError("cannot store the signature value", where);
  }

  if (options.timestamp) {
    Result<std::string> token = options.timestamp(signature);
    if (!token) return token.error();
    if (CMS_unsigned_add1_attr_by_NID(signer, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE,
                                      token->data(), static_cast<int>(token->size())) != 1) {
      return OpenSslError("cannot add the timestamp token", where);
    }
  }
  return Der(cms.get(), where);
}

// A PDF text string (PDFDocEncoding when possible, else UTF-16BE) for UTF-8 input. qpdf
// does not throw here, but nothing of it may escape the module, so it is caught anyway.
std::string PdfTextString(const std::string& utf8) {
  try {
    return QPDFObjectHandle::newUnicodeString(utf8).unparse();
  } catch (const std::exception&) {
    return "()";
  }
}

bool ValidPdfDate(const std::string& date) {
  if (date.size() != 17 || date.rfind("D:", 0) != 0 || date.back() != 'Z') return false;
  return std::all_of(date.begin() + 2, date.end() - 1,
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string PdfDateUtc(std::chrono::system_clock::time_point time) {
  return FormatUtc(time, "D:%Y%m%d%H%M%SZ");
}

Result<std::string> SignPdf(std::string_view pdf, const SigningKey& key,
                            const SignOptions& options) {
  const std::string& where = options.where;
  if (!ValidPdfDate(options.signing_time)) {
    return MakeError(ErrorCode::kUsage,
                     "signing_time must be a UTC PDF date like D:20261128190000Z, not '" +
                         options.signing_time + "'",
                     where);
  }
  std::string field_name;
  std::string page_ref;
  auto plan = PlanUpdate(pdf, options, field_name, page_ref);
  if (!plan) return plan.error();

  // Room for the CMS: every certificate, the largest signature the key can make, the
  // attributes and, for B-T, the token. Hex doubles it.
  std::size_t reserve =
      kCmsOverheadBytes + static_cast<std::size_t>(EVP_PKEY_get_size(key.private_key()));
  for (const X509Ptr& certificate : key.chain()) {
    reserve += static_cast<std::size_t>(i2d_X509(certificate.get(), nullptr));
  }
  if (options.timestamp) reserve += options.timestamp_reserve_bytes;

  std::string out(pdf);
  if (!out.empty() && out.back() != '\n' && out.back() != '\r') out += '\n';
  // id -> (generation, offset), for the xref.
  std::map<int, std::pair<int, std::size_t>> entries;
  std::vector<UpdateObject> objects = std::move(plan->objects);
  objects.push_back({plan->signature_id, 0, {}});
  std::sort(objects.begin(), objects.end(),
            [](const UpdateObject& a, const UpdateObject& b) { return a.id < b.id; });

  std::size_t byte_range_at = 0;
  std::size_t contents_at = 0;
  for (const UpdateObject& object : objects) {
    entries[object.id] = {object.generation, out.size()};
    out += std::to_string(object.id) + " " + std::to_string(object.generation) + " obj\n";
    if (object.id != plan->signature_id) {
      out += object.body + "\nendobj\n";
      continue;
    }
    out += "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange ";
    byte_range_at = out.size();
    out += std::string(kByteRangeWidth, ' ') + " /Contents ";
    contents_at = out.size();
    out += "<" + std::string(reserve * 2, '0') + "> /M " + "(" + options.signing_time +
           ")";  // Validated: "D:", digits, "Z".
    const std::pair<const char*, const std::string*> texts[] = {
        {" /Reason ", &options.reason},
        {" /Location ", &options.location},
        {" /ContactInfo ", &options.contact_info},
        {" /Name ", &options.name}};
    for (const auto& [key_text, value] : texts) {
      if (!value->empty()) out += key_text + PdfTextString(*value);
    }
    out += " >>\nendobj\n";
  }
  WriteXref(out, *plan, std::move(entries));

  // The signed bytes are everything except the /Contents hex string, brackets included.
  const std::size_t contents_end = contents_at + reserve * 2 + 2;
  const std::string byte_range = "[0 " + std::to_string(contents_at) + " " +
                                 std::to_string(contents_end) + " " +
                                 std::to_string(out.size() - contents_end) + "]";
  out.replace(byte_range_at, byte_range.size(), byte_range);

  std::array<unsigned char, 32> digest{};
  EvpMdCtxPtr hash(EVP_MD_CTX_new());
  if (!hash || EVP_DigestInit_ex(hash.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(hash.get(), out.data(), contents_at) != 1 ||
      EVP_DigestUpdate(hash.get(), out.data() + contents_end, out.size() - contents_end) != 1 ||
      EVP_DigestFinal_ex(hash.get(), digest.data(), nullptr) != 1) {
    return OpenSslError("cannot hash the document", where);
  }
  auto cms = BuildCms(key, digest, options);
  if (!cms) return cms.error();
  const std::string hex = HexEncode(*cms);
  if (hex.size() > reserve * 2) {
    return MakeError(ErrorCode::kInternal,
                     "the signature (" + std::to_string(cms->size()) +
                         " bytes) does not fit the space reserved for it (" +
                         std::to_string(reserve) +
                         " bytes); raise SignOptions::timestamp_reserve_bytes",
                     where);
  }
  out.replace(contents_at + 1, hex.size(), hex);
  // The postcondition, checked by the verifier's own parser: a damaged input can hide from
  // the checks above (qpdf reads the input through its xref, a verifier may rebuild it), and
  // a signed document nobody can verify must never be stored.
  if (options.rendered_here) return out;
  auto found = ExtractLastSignature(out, where);
  if (!found || !found->covers_whole_file ||
      found->byte_range[1] != static_cast<std::int64_t>(contents_at)) {
    return MakeError(ErrorCode::kData,
                     "damaged PDF cannot be signed so that verifiers find the signature" +
                         (found ? std::string() : ": " + found.error().message) +
                         " (repair it first)",
                     where);
  }
  return out;
}

}  // namespace credd::sign
