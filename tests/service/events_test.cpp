// The event publisher against a fake containerd: Forward over ttrpc in order, and the publish
// binary when the ttrpc address cannot be reached.
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/empty.pb.h>
#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "containerd/events/task.pb.h"
#include "containerd/services/events/ttrpc/v1/events.pb.h"
#include "fixture.hpp"
#include "service/events.hpp"
#include "transport/transport.hpp"
#include "ttrpc/server.hpp"

namespace runhcs::service {
namespace {

namespace asio = boost::asio;
namespace ev = ::containerd::services::events::ttrpc::v1;
using namespace std::chrono_literals;

class events_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/runhcs-events-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the context until pred holds or the bound passes.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < until) {
      ctx_.run_one_for(20ms);
    }
    return pred();
  }

  asio::io_context ctx_;
  std::filesystem::path dir_;
};

::containerd::events::TaskExit exit_event(const std::string& id, uint32_t status) {
  ::containerd::events::TaskExit e;
  e.set_container_id(id);
  e.set_id(id);
  e.set_exit_status(status);
  return e;
}

TEST_F(events_test, forwards_over_ttrpc_in_order_with_the_namespace) {
  auto address = "unix://" + (dir_ / "containerd.sock.ttrpc").string();
  std::error_code ec;
  auto listener = transport::listener::listen(ctx_.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  ttrpc::server server(ctx_.get_executor());
  std::vector<ev::Envelope> received;
  std::vector<std::string> namespaces;
  server.add<ev::ForwardRequest, google::protobuf::Empty>(
      "containerd.services.events.ttrpc.v1.Events", "Forward",
      [&](ttrpc::call_context& call, const ev::ForwardRequest& req,
          google::protobuf::Empty&) -> asio::awaitable<error> {
        received.push_back(req.envelope());
        namespaces.emplace_back(call.metadata(ttrpc::namespace_key));
        co_return error{};
      });
  asio::co_spawn(ctx_, server.serve(listener), asio::detached);
  {
    auto publisher = make_containerd_publisher(
        ctx_.get_executor(),
        publisher_options{"k8s.io", (dir_ / "containerd.sock.ttrpc").string(), "", ""});
    ::containerd::events::TaskStart start;
    start.set_container_id("t1");
    start.set_pid(42);
    publisher->publish(topic_start, start);
    publisher->publish(topic_exit, exit_event("t1", 3));
    ASSERT_TRUE(run_until([&] { return received.size() == 2; }));
  }
  EXPECT_EQ(received[0].topic(), "/tasks/start");
  EXPECT_EQ(received[0].namespace_(), "k8s.io");
  EXPECT_EQ(received[0].event().type_url(), "containerd.events.TaskStart");
  EXPECT_GT(received[0].timestamp().seconds(), 0);
  EXPECT_EQ(received[1].topic(), "/tasks/exit");
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(received[1].event().value()));
  EXPECT_EQ(exit.exit_status(), 3U);
  EXPECT_EQ(namespaces, (std::vector<std::string>{"k8s.io", "k8s.io"}));
  server.close();
  listener.close();
  ctx_.run_for(50ms);
}

TEST_F(events_test, falls_back_to_the_publish_binary) {
  auto script = dir_ / "fake-containerd";
  auto out = dir_ / "published";
  {
    std::ofstream s(script);
    s << "#!/bin/sh\necho \"$@\" > " << out.string() << ".args\ncat > " << out.string()
      << ".tmp\nmv " << out.string() << ".tmp " << out.string() << "\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto publisher = make_containerd_publisher(
      ctx_.get_executor(),
      publisher_options{"default", (dir_ / "nobody-listens").string(), "/run/c.sock",
                        script.string(), 200ms, 1000ms, 5000ms});
  publisher->publish(topic_exit, exit_event("t9", 7));
  ASSERT_TRUE(run_until([&] { return std::filesystem::exists(out); }));
  std::ifstream args(out.string() + ".args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, "--address /run/c.sock publish --topic /tasks/exit --namespace default");
  std::stringstream body;
  body << std::ifstream(out).rdbuf();
  google::protobuf::Any any;
  ASSERT_TRUE(any.ParseFromString(body.str()));
  EXPECT_EQ(any.type_url(), "containerd.events.TaskExit");
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(any.value()));
  EXPECT_EQ(exit.container_id(), "t9");
  EXPECT_EQ(exit.exit_status(), 7U);
}

TEST_F(events_test, a_lost_event_is_not_fatal) {
  auto publisher = make_containerd_publisher(
      ctx_.get_executor(), publisher_options{"default", (dir_ / "none").string(), "/x",
                                             (dir_ / "no-binary").string(), 100ms, 100ms, 500ms});
  publisher->publish(topic_exit, exit_event("t1", 1));
  ctx_.run_for(500ms);
  // Still usable: a later event is queued and tried again.
  publisher->publish(topic_exit, exit_event("t1", 2));
  ctx_.run_for(300ms);
  SUCCEED();
}

}  // namespace
}  // namespace runhcs::service
