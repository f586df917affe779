#include "server/certificates.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace palisade::server {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
void FreeBio(BIO* bio) { BIO_free(bio); }
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, FreeBio>>;

std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return false;
  const bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

}  // namespace

std::optional<IssuedCertificate> IssueCertificate(const CertificateRequest& request,
                                                  const IssuedCertificate* issuer,
                                                  std::string* error) {
  auto fail = [error](const std::string& what) -> std::optional<IssuedCertificate> {
    unsigned long code = ERR_get_error();
    char buffer[256] = "";
    if (code != 0) ERR_error_string_n(code, buffer, sizeof buffer);
    *error = what + (code != 0 ? std::string(": ") + buffer : std::string());
    ERR_clear_error();
    return std::nullopt;
  };
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail("cannot generate an EC key");

  KeyPtr issuer_key;
  CertPtr issuer_cert;
  if (issuer != nullptr) {
    BioPtr cert_bio(
        BIO_new_mem_buf(issuer->cert_pem.data(), static_cast<int>(issuer->cert_pem.size())));
    issuer_cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    BioPtr key_bio(
        BIO_new_mem_buf(issuer->key_pem.data(), static_cast<int>(issuer->key_pem.size())));
    issuer_key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) return fail("cannot read the issuer");
  }

  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), request.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * request.valid_days);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);
  X509* signer_cert = issuer_cert ? issuer_cert.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert));

  bool ok = true;
  if (request.is_ca) {
    ok = ok && AddExtension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    ok = ok && AddExtension(cert.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExtension(cert.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && AddExtension(cert.get(), signer_cert, NID_key_usage,
                            "critical,digitalSignature,keyEncipherment");
    ok = ok && AddExtension(cert.get(), signer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string alt_names;
  for (const std::string& dns : request.dns_names) {
    alt_names += (alt_names.empty() ? "" : ",") + std::string("DNS:") + dns;
  }
  for (const std::string& ip : request.ip_addresses) {
    alt_names += (alt_names.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  if (!alt_names.empty()) {
    ok = ok && AddExtension(cert.get(), signer_cert, NID_subject_alt_name, alt_names);
  }
  if (!ok) return fail("cannot add certificate extensions");
  EVP_PKEY* signer_key = issuer_key ? issuer_key.get() : key.get();
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) == 0) return fail("cannot sign");

  BioPtr cert_out(BIO_new(BIO_s_mem()));
  BioPtr key_out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return fail("cannot write PEM");
  }
  return IssuedCertificate{Drain(cert_out.get()), Drain(key_out.get())};
}

}  // namespace palisade::server
