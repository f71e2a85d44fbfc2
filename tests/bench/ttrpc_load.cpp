// Benchmark load generator: N connections, each making unary Connect calls back to back for a
// fixed time with our client; prints the round trips and latency percentiles.
//
// Usage: ttrpc_load --socket PATH [--connections N] [--duration SECONDS] [--warmup SECONDS]
// Output: calls=N seconds=S rps=R p50_us=X p99_us=Y
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "containerd/task/v2/shim.pb.h"
#include "ttrpc/client.hpp"

namespace asio = boost::asio;
namespace task = ::containerd::task::v2;
using runhcs::steady_clock;

namespace {

struct options {
  std::string socket;
  int connections = 1;
  double duration = 3;
  double warmup = 0.5;
};

struct totals {
  std::vector<double> latencies_us;
  std::string failure;
};

asio::awaitable<void> worker(const options& opt, steady_clock::time_point measure_from,
                             steady_clock::time_point end, totals& out) {
  asio::local::stream_protocol::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(asio::local::stream_protocol::endpoint(opt.socket), asio::use_awaitable);
  runhcs::ttrpc::client c(std::move(s));
  task::ConnectRequest req;
  req.set_id("feas");
  task::ConnectResponse resp;
  for (;;) {
    const auto t0 = steady_clock::now();
    if (t0 >= end) {
      break;
    }
    auto err = co_await c.call("containerd.task.v2.Task", "Connect", req, resp,
                               t0 + std::chrono::seconds(10));
    if (err.code) {
      out.failure = err.message;
      break;
    }
    if (t0 >= measure_from) {
      out.latencies_us.push_back(
          std::chrono::duration<double, std::micro>(steady_clock::now() - t0).count());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--socket")
      opt.socket = argv[i + 1];
    else if (flag == "--connections")
      opt.connections = std::stoi(argv[i + 1]);
    else if (flag == "--duration")
      opt.duration = std::stod(argv[i + 1]);
    else if (flag == "--warmup")
      opt.warmup = std::stod(argv[i + 1]);
  }
  if (opt.socket.empty() || opt.connections < 1 || opt.duration <= 0) {
    std::fprintf(stderr,
                 "usage: ttrpc_load --socket PATH [--connections N] [--duration S] "
                 "[--warmup S]\n");
    return 2;
  }
  asio::io_context ioc(1);
  const auto start = steady_clock::now();
  const auto measure_from = start + std::chrono::duration_cast<steady_clock::duration>(
                                        std::chrono::duration<double>(opt.warmup));
  const auto end = measure_from + std::chrono::duration_cast<steady_clock::duration>(
                                      std::chrono::duration<double>(opt.duration));
  std::vector<totals> per(static_cast<std::size_t>(opt.connections));
  int failed = 0;
  for (auto& t : per) {
    asio::co_spawn(ioc, worker(opt, measure_from, end, t), [&](std::exception_ptr e) {
      if (e) {
        ++failed;
      }
    });
  }
  ioc.run();
  std::vector<double> all;
  for (auto& t : per) {
    if (!t.failure.empty()) {
      std::fprintf(stderr, "ttrpc_load: call failed: %s\n", t.failure.c_str());
      return 1;
    }
    all.insert(all.end(), t.latencies_us.begin(), t.latencies_us.end());
  }
  if (failed > 0 || all.empty()) {
    std::fprintf(stderr, "ttrpc_load: %d connections failed\n", failed);
    return 1;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(all.size()))) - 1;
    return all[std::min(idx, all.size() - 1)];
  };
  std::printf("calls=%zu seconds=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f\n", all.size(), opt.duration,
              static_cast<double>(all.size()) / opt.duration, pct(0.50), pct(0.99));
  return 0;
}
