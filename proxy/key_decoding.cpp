// ENGINE is deprecated API in OpenSSL 3.0, and the only way to reach the built-in EC decoder
// from inside libssl's certificate parsing; kept to this file.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "proxy/key_decoding.hpp"

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/evp.h>

namespace certgate::proxy {

namespace {

EVP_PKEY_METHOD* g_ec_method = nullptr;  // OpenSSL's own EC method, copied; lives as long as the process
const int kNids[] = {EVP_PKEY_EC};

int ec_methods(ENGINE*, EVP_PKEY_METHOD** method, const int** nids, int nid) {
    if (method == nullptr) {
        *nids = kNids;
        return 1;
    }
    *method = nid == EVP_PKEY_EC ? g_ec_method : nullptr;
    return *method != nullptr;
}

std::string install() {
    const unsigned long v = OpenSSL_version_num();
    if ((v >> 20) != 0x300) return "not OpenSSL 3.0";
#ifdef OPENSSL_NO_ENGINE
    return "OpenSSL built without engines";
#else
    const EVP_PKEY_METHOD* builtin = EVP_PKEY_meth_find(EVP_PKEY_EC);
    if (builtin == nullptr) return "no built-in EC method";
    EVP_PKEY_METHOD* copy = EVP_PKEY_meth_new(EVP_PKEY_EC, 0);
    if (copy == nullptr) return "out of memory";
    EVP_PKEY_meth_copy(copy, builtin);
    ENGINE* e = ENGINE_new();
    if (e == nullptr || !ENGINE_set_id(e, "certgate-ec") ||
        !ENGINE_set_name(e, "certgate: OpenSSL's built-in EC method") ||
        !ENGINE_set_pkey_meths(e, ec_methods) || !ENGINE_add(e)) {
        if (e) ENGINE_free(e);
        EVP_PKEY_meth_free(copy);
        return "engine refused";
    }
    g_ec_method = copy;
    const bool ok = ENGINE_set_default_pkey_meths(e) == 1;
    ENGINE_free(e);  // the engine list keeps its own reference
    return ok ? "" : "engine refused as default";
#endif
}

}  // namespace

std::string install_ec_key_engine() {
    static const std::string outcome = install();
    return outcome;
}

}  // namespace certgate::proxy
