// A minimal Castellan client: log in, validate the token with a pipeline of
// requests, log out. Shows the client library's pipelining (queue, flush,
// receive in any order). Usage: validate_client HOST PORT USER [CA_FILE]
// (password on stdin); with CA_FILE it speaks TLS and trusts that CA.
#include <iostream>
#include <set>

#include "net/client.hpp"

using namespace castellan::net;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::cerr << "usage: validate_client HOST PORT USER [CA_FILE]  (password on stdin)\n";
    return 2;
  }
  tls_options tls;
  if (argc == 5) {
    tls.enabled = true;
    tls.ca_file = argv[4];
  }
  std::string password;
  std::getline(std::cin, password);
  try {
    auto c = client::connect(argv[1], static_cast<uint16_t>(std::stoi(argv[2])), 5s, tls);
    auto login = c.login(argv[3], password);
    if (!login.ok) {
      std::cerr << "login refused: " << login.error << "\n";
      return 1;
    }
    auto token = login.as<login_reply>().token;
    // Pipeline 100 validates in one write; replies come back in any order.
    std::set<uint64_t> pending;
    for (int i = 0; i < 100; ++i)
      pending.insert(c.queue(validate_request{0, token}));
    c.flush();
    while (!pending.empty()) {
      auto r = c.receive(5s);
      if (!r || !r->ok) {
        std::cerr << "validate failed\n";
        return 1;
      }
      pending.erase(r->id);
    }
    std::cout << "100 validates ok for " << login.as<login_reply>().user << "\n";
    return c.logout(token).ok ? 0 : 1;
  } catch (const client_error& e) {
    std::cerr << e.what() << "\n";
    return 3;
  }
}
