// Seed maker for the verify fuzz target: signs each input PDF with the fuzz key, so the
// verifier's corpus starts from real signatures. Usage: fuzz_sign_seed IN.pdf OUT.pdf ...
// (pairs). Built only in the fuzz build; scripts/fuzz runs it. Exit 0 even when an input
// cannot be signed (the seed is then simply left out).
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "daemon/sign/pades_signer.h"
#include "fuzz/fuzz_key.h"

int main(int argc, char** argv) {
  using namespace credd;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::string pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    sign::SignOptions options;
    options.signing_time = "D:20261201120000Z";
    options.where = argv[i];
    Result<std::string> signed_pdf = sign::SignPdf(pdf, fuzz::FuzzSigningKey(), options);
    if (!signed_pdf) {
      std::fprintf(stderr, "sign_seed: %s\n", signed_pdf.error().ToString().c_str());
      continue;
    }
    std::ofstream(argv[i + 1], std::ios::binary) << *signed_pdf;
  }
  return 0;
}
