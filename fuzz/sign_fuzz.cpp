// Fuzz target: the PAdES signer's input parsing (daemon/sign/pades_signer.cpp: startxref,
// qpdf's reading of the trailer, pages and AcroForm) over arbitrary PDF bytes. Whatever it
// signs must keep the input as a prefix and be found again by the verifier's parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/sign/pades_signer.h"
#include "daemon/sign/pdf_signature.h"
#include "fuzz/fuzz_key.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  credd::fuzz::FuzzSigningKey();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  const std::string_view pdf(reinterpret_cast<const char*>(data), size);
  sign::SignOptions options;
  options.signing_time = "D:20261201120000Z";
  options.where = "fuzz.pdf";
  Result<std::string> signed_pdf = sign::SignPdf(pdf, fuzz::FuzzSigningKey(), options);
  if (!signed_pdf) {
    fuzz::Check(signed_pdf.error().where == "fuzz.pdf", "a signing error without the file name");
    return 0;
  }
  fuzz::Check(std::string_view(*signed_pdf).substr(0, pdf.size()) == pdf,
              "the signed PDF does not start with the input bytes");
  Result<sign::PdfSignature> found = sign::ExtractLastSignature(*signed_pdf, "signed.pdf");
  if (!found) {
    fuzz::Check(false,
                "the verifier cannot find the signature just made: " + found.error().ToString());
  }
  fuzz::Check(found->covers_whole_file, "the new signature does not cover the whole file");
  return 0;
}
