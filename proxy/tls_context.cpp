#include "proxy/tls_context.hpp"

#include "proxy/session_cache.hpp"
#include "proxy/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>

#include "policies/client_identity.hpp"

namespace certgate::proxy {
namespace {

using config::FileRef;

struct BioDeleter {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
    void operator()(X509* x) const { X509_free(x); }
};
struct CrlDeleter {
    void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    std::string out;
    while (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
        e = ERR_get_error();
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

// Verification error of this connection, stored on the SSL object, copied to its session so
// that a resumed session is judged exactly as the full handshake was.
int ssl_error_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}
int session_error_index() {
    static const int index = SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

void record_error(X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl == nullptr || SSL_get_ex_data(ssl, ssl_error_index()) != nullptr) return;
    long err = X509_STORE_CTX_get_error(store);
    if (err == X509_V_OK) err = X509_V_ERR_UNSPECIFIED;
    SSL_set_ex_data(ssl, ssl_error_index(), reinterpret_cast<void*>(static_cast<intptr_t>(err)));
}

// Every policy requires a certificate: a failure ends the handshake with an alert.
int verify_enforcing(int ok, X509_STORE_CTX* store) {
    if (!ok) record_error(store);
    return ok;
}

// Some policy accepts requests without a verified certificate: complete the handshake and
// let the request's policy decide, from the error recorded here.
int verify_recording(int ok, X509_STORE_CTX* store) {
    if (!ok) record_error(store);
    return 1;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN rather than refusing a client that offers h2 only
}

std::string read_file(const FileRef& ref, std::vector<std::string>& errors) {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(ref.path.c_str(), "rb"));
    if (!bio) {
        errors.push_back(config::format_error(
            ref.mark, ref.key,
            "cannot read \"" + ref.path + "\": " + std::string(std::strerror(errno))));
        ERR_clear_error();
        return {};
    }
    std::string data;
    char buf[8192];
    int n;
    while ((n = BIO_read(bio.get(), buf, sizeof buf)) > 0) data.append(buf, static_cast<size_t>(n));
    return data;
}

std::vector<X509Ptr> parse_pem_certificates(const std::string& pem) {
    std::vector<X509Ptr> out;
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
    ERR_clear_error();  // the loop ends on "no start line"
    return out;
}

CrlPtr parse_crl(const std::string& data) {
    std::unique_ptr<BIO, BioDeleter> bio(
        BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
    if (crl == nullptr) {
        ERR_clear_error();
        const auto* p = reinterpret_cast<const unsigned char*>(data.data());
        crl = d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size()));
    }
    ERR_clear_error();
    return CrlPtr(crl);
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
    struct tm tm {};
    ASN1_TIME_to_tm(t, &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
    std::time_t t = std::chrono::system_clock::to_time_t(tp);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

CertificateSummary summarize(const std::string& role, X509* cert) {
    CertificateSummary s;
    s.role = role;
    s.subject = policies::format_dn(X509_get_subject_name(cert));
    s.expires = to_time_point(X509_get0_notAfter(cert));
    s.not_after = rfc3339(s.expires);
    return s;
}

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Accumulates the trust material into TlsBuild::trust_id.
class TrustDigest {
public:
    TrustDigest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
    // Length-prefixed, so that moving bytes between two files changes the digest.
    void add(std::string_view data) {
        const std::string length = std::to_string(data.size()) + ":";
        EVP_DigestUpdate(ctx_.get(), length.data(), length.size());
        EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
    }
    std::string finish() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_.get(), md, &n);
        return std::string(reinterpret_cast<const char*>(md), n);
    }

private:
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx_;
};

// Each certificate in the server file must be issued by the next one (leaf first).
void check_server_chain(const std::vector<X509Ptr>& chain, const FileRef& ref,
                        std::vector<std::string>& errors) {
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
        if (X509_check_issued(chain[i + 1].get(), chain[i].get()) != X509_V_OK ||
            X509_verify(chain[i].get(), X509_get0_pubkey(chain[i + 1].get())) != 1) {
            ERR_clear_error();
            errors.push_back(config::format_error(
                ref.mark, ref.key,
                "certificate " + std::to_string(i + 2) + " in \"" + ref.path +
                    "\" did not issue the one before it (leaf first, then its issuers)"));
            return;
        }
    }
}

}  // namespace

TlsBuild build_tls_context(const config::Config& cfg) {
    std::vector<std::string> errors;
    TlsBuild out;
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx) throw config::ConfigError({"cannot create TLS context: " + openssl_error()});
    SSL_CTX* c = ctx.get();

    SSL_CTX_set_security_level(c, 2);  // explicit: level 1 would accept RSA-1024 and SHA-1
    SSL_CTX_set_min_proto_version(
        c, cfg.tls.min_version == config::TlsVersion::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // IGNORE_UNEXPECTED_EOF: most clients close without close_notify; treated as fatal, that
    // would evict their session from the cache. HTTP framing, not TLS EOF, ends a message.
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Stateful resumption with a single TLS 1.3 ticket: the session (and the verification
    // result stored with it) stays in this context's cache, so a reload that builds a new
    // context never resumes sessions judged by the old CA or CRL set.
    SSL_CTX_set_num_tickets(c, 1);
    // Kept encoded, in certgate's own cache (session_cache.hpp). Five minutes, as nginx and
    // HAProxy default to; Server sweeps expired sessions every minute.
    install_session_cache(c);
    SSL_CTX_set_timeout(c, 300);
    // A random session id context per build as well: even a session that reached this
    // context some other way would not resume across a reload. (Ticket keys are random per
    // SSL_CTX already, and SSL_OP_NO_TICKET keeps TLS 1.3 tickets stateful.)
    unsigned char sid_ctx[SSL_MAX_SID_CTX_LENGTH];
    if (RAND_bytes(sid_ctx, sizeof sid_ctx) != 1)
        throw config::ConfigError({"cannot create TLS context: " + openssl_error()});
    SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx);
    // No SSL_MODE_RELEASE_BUFFERS: it frees and reallocates both record buffers on every
    // read and write. A connection's buffers are freed when it goes idle instead
    // (TlsStream::release_buffers).
    // One read() per burst of records instead of two per record (header, then body).
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20");
    SSL_CTX_set_alpn_select_cb(c, select_http11, nullptr);
    TlsStream::enable_offload(c);

    // Server certificate chain and key.
    std::string cert_pem = read_file(cfg.tls.certificate, errors);
    std::vector<X509Ptr> chain;
    if (!cert_pem.empty() || errors.empty()) {
        chain = parse_pem_certificates(cert_pem);
        if (chain.empty()) {
            errors.push_back(
                config::format_error(cfg.tls.certificate.mark, cfg.tls.certificate.key,
                                     "no PEM certificate in \"" + cfg.tls.certificate.path + "\""));
        } else {
            check_server_chain(chain, cfg.tls.certificate, errors);
            if (SSL_CTX_use_certificate(c, chain[0].get()) != 1)
                errors.push_back(config::format_error(cfg.tls.certificate.mark,
                                                      cfg.tls.certificate.key,
                                                      "certificate refused: " + openssl_error()));
            for (size_t i = 1; i < chain.size(); ++i) SSL_CTX_add1_chain_cert(c, chain[i].get());
            out.certificates.push_back(summarize("server", chain[0].get()));
        }
    }
    std::string key_pem = read_file(cfg.tls.private_key, errors);
    if (!key_pem.empty()) {
        std::unique_ptr<BIO, BioDeleter> bio(
            BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
        EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
        if (key == nullptr) {
            errors.push_back(config::format_error(cfg.tls.private_key.mark, cfg.tls.private_key.key,
                                                  "no usable PEM private key in \"" +
                                                      cfg.tls.private_key.path +
                                                      "\" (encrypted keys are not supported)"));
            ERR_clear_error();
        } else {
            if (SSL_CTX_use_PrivateKey(c, key) != 1 ||
                (!chain.empty() && SSL_CTX_check_private_key(c) != 1)) {
                errors.push_back(config::format_error(
                    cfg.tls.private_key.mark, cfg.tls.private_key.key,
                    "private key does not match certificate \"" + cfg.tls.certificate.path + "\""));
                ERR_clear_error();
            }
            EVP_PKEY_free(key);
        }
    }

    // Client CAs and CRLs.
    const bool enforce = cfg.every_policy_requires_certificate();
    std::vector<X509Ptr> cas;
    TrustDigest trust;
    trust.add(std::to_string(cfg.tls.verify_depth));
    if (cfg.tls.client_ca) {
        const FileRef& ref = *cfg.tls.client_ca;
        std::string pem = read_file(ref, errors);
        trust.add(pem);
        if (!pem.empty()) {
            cas = parse_pem_certificates(pem);
            if (cas.empty())
                errors.push_back(config::format_error(
                    ref.mark, ref.key, "no PEM certificate in \"" + ref.path + "\""));
        }
        X509_STORE* store = SSL_CTX_get_cert_store(c);
        STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
        for (const auto& ca : cas) {
            X509_STORE_add_cert(store, ca.get());
            sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca.get())));
            out.certificates.push_back(summarize("client CA", ca.get()));
        }
        SSL_CTX_set_client_CA_list(c, names);
        for (const FileRef& crl_ref : cfg.tls.crl) {
            std::string data = read_file(crl_ref, errors);
            trust.add(data);
            if (data.empty()) continue;
            CrlPtr crl = parse_crl(data);
            if (!crl) {
                errors.push_back(config::format_error(
                    crl_ref.mark, crl_ref.key, "no PEM or DER CRL in \"" + crl_ref.path + "\""));
                continue;
            }
            bool issued = false;
            for (const auto& ca : cas)
                if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()),
                                  X509_get_subject_name(ca.get())) == 0 &&
                    X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1)
                    issued = true;
            ERR_clear_error();
            if (!issued) {
                errors.push_back(config::format_error(
                    crl_ref.mark, crl_ref.key,
                    "CRL \"" + crl_ref.path + "\" is not issued by a CA in tls.client_ca"));
                continue;
            }
            const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
            if (next != nullptr && X509_cmp_current_time(next) < 0)
                out.warnings.push_back("CRL \"" + crl_ref.path +
                                       "\" is past its next update: every client certificate it "
                                       "covers will fail with \"CRL has expired\"");
            X509_STORE_add_crl(store, crl.get());
        }
        if (!cfg.tls.crl.empty())
            X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
        X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);  // EKU must allow clientAuth
        SSL_CTX_set_verify(
            c, enforce ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
            enforce ? verify_enforcing : verify_recording);
        // verify_depth counts the certificates above the client's up to and including the
        // client_ca one (1: issued directly by a client_ca certificate); OpenSSL's depth
        // counts only the intermediates between them.
        SSL_CTX_set_verify_depth(c, cfg.tls.verify_depth - 1);
    }

    if (!errors.empty()) throw config::ConfigError(std::move(errors));
    out.trust_id = trust.finish();
    out.context = std::move(ctx);
    return out;
}

long recorded_verify_error(SSL* ssl) {
    void* recorded = SSL_get_ex_data(ssl, ssl_error_index());
    return recorded ? static_cast<long>(reinterpret_cast<intptr_t>(recorded)) : X509_V_OK;
}

long session_verdict(SSL* ssl, SSL_SESSION* session) {
    if (void* stored = SSL_SESSION_get_ex_data(session, session_error_index()))
        return static_cast<long>(reinterpret_cast<intptr_t>(stored)) - 1;  // resumed before
    long error = recorded_verify_error(ssl);
    if (error == X509_V_OK) error = SSL_get_verify_result(ssl);
    return error;
}

void restore_session_verdict(SSL_SESSION* session, long verdict) {
    SSL_SESSION_set_ex_data(session, session_error_index(),
                            reinterpret_cast<void*>(static_cast<intptr_t>(verdict + 1)));
}

PeerVerification peer_verification(SSL* ssl) {
    PeerVerification v;
    v.presented = SSL_get0_peer_certificate(ssl) != nullptr;
    if (!v.presented) return v;
    SSL_SESSION* session = SSL_get_session(ssl);
    if (SSL_session_reused(ssl)) {
        void* stored = session ? SSL_SESSION_get_ex_data(session, session_error_index()) : nullptr;
        v.error = stored ? static_cast<long>(reinterpret_cast<intptr_t>(stored)) - 1
                         : SSL_get_verify_result(ssl);
        return v;
    }
    v.error = recorded_verify_error(ssl);
    if (v.error == X509_V_OK && SSL_get_verify_result(ssl) != X509_V_OK)
        v.error = SSL_get_verify_result(ssl);
    // Stored +1 so that X509_V_OK (0) is distinguishable from "never stored".
    if (session)
        SSL_SESSION_set_ex_data(session, session_error_index(),
                                reinterpret_cast<void*>(static_cast<intptr_t>(v.error + 1)));
    return v;
}

PeerVerification reverify_peer(X509* leaf, STACK_OF(X509)* chain, const TlsBuild& trust) {
    PeerVerification v;
    v.presented = leaf != nullptr;
    if (!v.presented) return v;
    SSL_CTX* c = trust.context.get();
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> store(X509_STORE_CTX_new(),
                                                                          X509_STORE_CTX_free);
    // Server side, the peer chain holds what the client sent after its leaf (kept in the
    // session, so a resumed connection has it too).
    if (!store || X509_STORE_CTX_init(store.get(), SSL_CTX_get_cert_store(c), leaf, chain) != 1) {
        ERR_clear_error();
        v.error = X509_V_ERR_UNSPECIFIED;
        return v;
    }
    // As OpenSSL sets up the handshake's verification: "ssl_client" purpose and trust, the
    // context's parameters (depth), its security level for every key and signature.
    X509_STORE_CTX_set_default(store.get(), "ssl_client");
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store.get());
    X509_VERIFY_PARAM_set1(param, SSL_CTX_get0_param(c));
    X509_VERIFY_PARAM_set_auth_level(param, SSL_CTX_get_security_level(c));
    // No callback: verification stops at the first error, the one the handshake records.
    if (X509_verify_cert(store.get()) != 1) {
        v.error = X509_STORE_CTX_get_error(store.get());
        if (v.error == X509_V_OK) v.error = X509_V_ERR_UNSPECIFIED;
    }
    ERR_clear_error();
    return v;
}

}  // namespace certgate::proxy
