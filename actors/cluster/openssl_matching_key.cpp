// CAF's OpenSSL sessions load their certificate and key per connection
// with two calls that each open the file anew (SSL_CTX_use_certificate_chain_file,
// then SSL_CTX_use_PrivateKey_file). The node gives CAF one in-memory copy
// holding both (cluster_tls.hpp), replaced whole on renewal; a renewal that
// lands between the two opens pairs the old certificate with the new key.
// The key load then fails and CAF throws on its network thread, which ends
// the process when it was accepting a connection.
//
// So a key load from one of the node's copies (/proc/self/fd/N) that does
// not match reads the chain again from the same copy, then the key: both
// from the renewed files now. Any other file, and a copy that still does not
// match after three tries, fail as before. Interposed like
// openssl_clean_calls.cpp, and for the same reason: CAF cannot be patched.
#include <dlfcn.h>

#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>

extern "C" __attribute__((visibility("default"))) int SSL_CTX_use_PrivateKey_file(SSL_CTX* ctx,
                                                                                   const char* file,
                                                                                   int type) {
  using key_loader = int (*)(SSL_CTX*, const char*, int);
  static auto real = reinterpret_cast<key_loader>(dlsym(RTLD_NEXT, "SSL_CTX_use_PrivateKey_file"));
  int ok = real(ctx, file, type);
  constexpr char node_copy[] = "/proc/self/fd/";
  if (ok == 1 || !file || std::strncmp(file, node_copy, sizeof node_copy - 1) != 0)
    return ok;
  for (int attempt = 0; attempt < 3 && ok != 1; ++attempt) {
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, file) == 1)
      ok = real(ctx, file, type);
  }
  return ok;
}
