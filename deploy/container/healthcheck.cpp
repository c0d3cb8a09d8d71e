// certgate-healthcheck [HOST:PORT] [PATH]: the container HEALTHCHECK. Exit 0 when an HTTP GET
// of PATH (default /healthz) on the admin listener (default 127.0.0.1:9901) answers 200 within
// 2 s, else 1. A few lines of C++ instead of curl and a shell, which the image does not carry.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    const std::string target = argc > 1 ? argv[1] : "127.0.0.1:9901";
    const std::string path = argc > 2 ? argv[2] : "/healthz";
    const auto colon = target.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
    if (colon == std::string::npos ||
        inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
        std::fprintf(stderr, "usage: certgate-healthcheck [IPV4:PORT] [PATH]\n");
        return 2;
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::perror("certgate-healthcheck: connect");
        return 1;
    }
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    char reply[64] = {};
    const bool sent = send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                      static_cast<ssize_t>(request.size());
    const ssize_t n = sent ? recv(fd, reply, sizeof reply - 1, MSG_WAITALL) : -1;
    close(fd);
    const std::string head(reply, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (head.size() >= 13 && head.rfind("HTTP/1.", 0) == 0 && head.compare(8, 5, " 200 ") == 0)
        return 0;
    const std::string status = n > 0 ? head.substr(0, head.find('\r')) : "no answer";
    std::fprintf(stderr, "certgate-healthcheck: %s\n", status.c_str());
    return 1;
}
