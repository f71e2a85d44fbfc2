// Every method of containerd.task.v2.Task and its status codes, through a real ttrpc server and
// client over a socket pair, with real host processes behind it.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/empty.pb.h>
#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <filesystem>
#include <fstream>
#include <memory>

#include "backend/host_process.hpp"
#include "backend/reaper.hpp"
#include "containerd/events/task.pb.h"
#include "containerd/task/v2/shim.pb.h"
#include "fixture.hpp"
#include "service/task_record.hpp"
#include "service/task_service.hpp"
#include "ttrpc/client.hpp"
#include "ttrpc/server.hpp"

namespace runhcs::service {
namespace {

namespace asio = boost::asio;
namespace api = ::containerd::task::v2;
using google::protobuf::Empty;
using namespace std::chrono_literals;
using ttrpc::code;

struct recorded_event {
  std::string topic;
  std::string type;
  std::string bytes;
};

class recording_publisher final : public event_publisher {
 public:
  void publish(std::string_view topic, const google::protobuf::MessageLite& event) override {
    events.push_back({std::string(topic), event_type_url(event), event.SerializeAsString()});
  }
  std::vector<std::string> topics() const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      out.push_back(e.topic);
    }
    return out;
  }
  std::vector<recorded_event> events;
};

std::string json_args(const std::vector<std::string>& args) {
  std::string out = "[";
  for (std::size_t i = 0; i < args.size(); ++i) {
    out += (i ? ",\"" : "\"") + args[i] + "\"";
  }
  return out + "]";
}

class task_service_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/runhcs-service-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    events_ = std::make_shared<recording_publisher>();
    service_ = std::make_unique<task_service>(
        ctx_.get_executor(), task_service_options{"shim1", "default", "/c.sock", "", "", root_},
        [this](bool now) { shutdowns_.push_back(now); },
        backend::make_host_process_backend(ctx_.get_executor()), events_);
    service_->register_with(server_);
    transport::stream server_end(ctx_), client_end(ctx_);
    asio::local::connect_pair(server_end, client_end);
    asio::co_spawn(ctx_, server_.serve_connection(std::move(server_end)), asio::detached);
    client_.emplace(std::move(client_end));
  }

  void TearDown() override {
    client_->close();
    server_.close();
    service_.reset();
    ctx_.run_for(50ms);
    std::filesystem::remove_all(root_);
  }

  // A bundle for a task whose init runs args.
  std::string bundle(const std::string& id, const std::vector<std::string>& args) {
    auto dir = root_ / id;
    std::filesystem::create_directories(dir / "rootfs");
    std::ofstream(dir / "config.json") << R"({"root":{"path":"rootfs"},"process":{"args":)"
                                       << json_args(args) << R"(,"cwd":"/"}})";
    return dir.string();
  }

  template <class Req, class Resp>
  error call(std::string_view method, const Req& req, Resp& resp) {
    // The call is lazy: everything it refers to must outlive run_bounded, metadata included.
    auto op =
        client_->call(task_service_name, method, req, resp, steady_clock::now() + 15s, metadata_);
    auto out = testing::run_bounded(ctx_, std::move(op));
    return out.value_or(error{make_error_code(errc::call_timeout), "test bound"});
  }
  template <class Req>
  error call(std::string_view method, const Req& req) {
    Empty empty;
    return call(method, req, empty);
  }

  static int status_of(const error& e) {
    if (!e.code) {
      return 0;
    }
    EXPECT_EQ(&e.code.category(), &ttrpc::grpc_category()) << e.message;
    return e.code.value();
  }

  uint32_t create(const std::string& id, const std::vector<std::string>& args,
                  const std::string& out = "") {
    api::CreateTaskRequest req;
    req.set_id(id);
    req.set_bundle(bundle(id, args));
    req.set_stdout(out);
    api::CreateTaskResponse resp;
    auto e = call("Create", req, resp);
    EXPECT_FALSE(e.code) << e.message;
    return resp.pid();
  }

  uint32_t start(const std::string& id, const std::string& exec_id = "") {
    api::StartRequest req;
    req.set_id(id);
    req.set_exec_id(exec_id);
    api::StartResponse resp;
    auto e = call("Start", req, resp);
    EXPECT_FALSE(e.code) << e.message;
    return resp.pid();
  }

  api::WaitResponse wait(const std::string& id, const std::string& exec_id = "") {
    api::WaitRequest req;
    req.set_id(id);
    req.set_exec_id(exec_id);
    api::WaitResponse resp;
    auto e = call("Wait", req, resp);
    EXPECT_FALSE(e.code) << e.message;
    return resp;
  }

  api::StateResponse state(const std::string& id, const std::string& exec_id = "") {
    api::StateRequest req;
    req.set_id(id);
    req.set_exec_id(exec_id);
    api::StateResponse resp;
    auto e = call("State", req, resp);
    EXPECT_FALSE(e.code) << e.message;
    return resp;
  }

  asio::io_context ctx_;
  std::filesystem::path root_;
  std::shared_ptr<recording_publisher> events_;
  ttrpc::server server_{ctx_.get_executor()};
  std::unique_ptr<task_service> service_;
  std::optional<ttrpc::client> client_;
  std::vector<bool> shutdowns_;
  ttrpc::metadata metadata_{{"containerd-namespace-ttrpc", "default"}};
};

TEST_F(task_service_test, connect_answers_the_shim_pid) {
  api::ConnectRequest req;
  req.set_id("nothing");
  api::ConnectResponse resp;
  ASSERT_FALSE(call("Connect", req, resp).code);
  EXPECT_EQ(resp.shim_pid(), static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(resp.task_pid(), static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(resp.version(), "");

  auto pid = create("t1", {"/bin/true"});
  req.set_id("t1");
  ASSERT_FALSE(call("Connect", req, resp).code);
  EXPECT_EQ(resp.task_pid(), pid);
}

TEST_F(task_service_test, a_task_lives_create_start_wait_delete) {
  auto pid = create("t1", {"/bin/sh", "-c", "exit 3"});
  ASSERT_GT(pid, 0U);
  auto s = state("t1");
  EXPECT_EQ(s.status(), ::containerd::v1::types::CREATED);
  EXPECT_EQ(s.pid(), pid);
  EXPECT_EQ(s.id(), "t1");
  EXPECT_EQ(s.bundle(), (root_ / "t1").string());
  EXPECT_EQ(start("t1"), pid);
  auto w = wait("t1");
  EXPECT_EQ(w.exit_status(), 3U);
  EXPECT_GT(w.exited_at().seconds(), 0);
  s = state("t1");
  EXPECT_EQ(s.status(), ::containerd::v1::types::STOPPED);
  EXPECT_EQ(s.exit_status(), 3U);

  api::DeleteRequest del;
  del.set_id("t1");
  api::DeleteResponse deleted;
  ASSERT_FALSE(call("Delete", del, deleted).code);
  EXPECT_EQ(deleted.pid(), pid);
  EXPECT_EQ(deleted.exit_status(), 3U);
  EXPECT_EQ(deleted.exited_at().seconds(), w.exited_at().seconds());
  EXPECT_EQ(service_->task_count(), 0U);
  api::StateResponse gone;
  api::StateRequest sreq;
  sreq.set_id("t1");
  EXPECT_EQ(status_of(call("State", sreq, gone)), static_cast<int>(code::not_found));

  EXPECT_EQ(events_->topics(), (std::vector<std::string>{"/tasks/create", "/tasks/start",
                                                         "/tasks/exit", "/tasks/delete"}));
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(events_->events[2].bytes));
  EXPECT_EQ(events_->events[2].type, "containerd.events.TaskExit");
  EXPECT_EQ(exit.container_id(), "t1");
  EXPECT_EQ(exit.id(), "t1");
  EXPECT_EQ(exit.pid(), pid);
  EXPECT_EQ(exit.exit_status(), 3U);
}

TEST_F(task_service_test, create_errors) {
  create("t1", {"/bin/true"});
  api::CreateTaskRequest req;
  req.set_id("t1");
  req.set_bundle(bundle("t1", {"/bin/true"}));
  api::CreateTaskResponse resp;
  EXPECT_EQ(status_of(call("Create", req, resp)), static_cast<int>(code::already_exists));
  req.set_id("../evil");
  EXPECT_EQ(status_of(call("Create", req, resp)), static_cast<int>(code::invalid_argument));
  req.set_id("t2");
  req.set_bundle((root_ / "missing").string());
  auto e = call("Create", req, resp);
  EXPECT_EQ(status_of(e), static_cast<int>(code::unknown));
  EXPECT_NE(e.message.find("config.json"), std::string::npos) << e.message;
  req.set_bundle(bundle("t3", {"no-such-program"}));
  EXPECT_EQ(status_of(call("Create", req, resp)), static_cast<int>(code::invalid_argument));
  EXPECT_EQ(service_->task_count(), 1U);
}

TEST_F(task_service_test, unknown_ids_are_not_found) {
  api::StartRequest start_req;
  start_req.set_id("nope");
  api::StartResponse start_resp;
  EXPECT_EQ(status_of(call("Start", start_req, start_resp)), static_cast<int>(code::not_found));
  api::KillRequest kill;
  kill.set_id("nope");
  kill.set_signal(SIGTERM);
  EXPECT_EQ(status_of(call("Kill", kill)), static_cast<int>(code::not_found));
  api::PidsRequest pids;
  pids.set_id("nope");
  api::PidsResponse pids_resp;
  EXPECT_EQ(status_of(call("Pids", pids, pids_resp)), static_cast<int>(code::not_found));
  api::DeleteRequest del;
  del.set_id("nope");
  api::DeleteResponse del_resp;
  EXPECT_EQ(status_of(call("Delete", del, del_resp)), static_cast<int>(code::not_found));
  api::WaitRequest w;
  w.set_id("nope");
  api::WaitResponse w_resp;
  EXPECT_EQ(status_of(call("Wait", w, w_resp)), static_cast<int>(code::not_found));
  create("t1", {"/bin/true"});
  start_req.set_id("t1");
  start_req.set_exec_id("e1");
  EXPECT_EQ(status_of(call("Start", start_req, start_resp)), static_cast<int>(code::not_found));
  api::CloseIORequest close;
  close.set_id("t1");
  close.set_exec_id("e1");
  EXPECT_EQ(status_of(call("CloseIO", close)), static_cast<int>(code::not_found));
  api::ResizePtyRequest resize;
  resize.set_id("nope");
  EXPECT_EQ(status_of(call("ResizePty", resize)), static_cast<int>(code::not_found));
}

TEST_F(task_service_test, start_twice_and_delete_running_are_failed_preconditions) {
  create("t1", {"/bin/sleep", "100"});
  start("t1");
  api::StartRequest again;
  again.set_id("t1");
  api::StartResponse resp;
  EXPECT_EQ(status_of(call("Start", again, resp)), static_cast<int>(code::failed_precondition));
  api::DeleteRequest del;
  del.set_id("t1");
  api::DeleteResponse deleted;
  EXPECT_EQ(status_of(call("Delete", del, deleted)), static_cast<int>(code::failed_precondition));

  api::KillRequest kill;
  kill.set_id("t1");
  kill.set_signal(SIGKILL);
  ASSERT_FALSE(call("Kill", kill).code);
  EXPECT_EQ(wait("t1").exit_status(), 128U + SIGKILL);
  // A second kill of a finished process: containerd's "process already finished" (NotFound).
  EXPECT_EQ(status_of(call("Kill", kill)), static_cast<int>(code::not_found));
  kill.set_signal(0);
  EXPECT_EQ(status_of(call("Kill", kill)), static_cast<int>(code::invalid_argument));
  ASSERT_FALSE(call("Delete", del, deleted).code);
  EXPECT_EQ(deleted.exit_status(), 128U + SIGKILL);
}

TEST_F(task_service_test, pids_lists_the_task_processes) {
  auto pid = create("t1", {"/bin/sh", "-c", "sleep 100 & wait"});
  start("t1");
  api::PidsRequest req;
  req.set_id("t1");
  api::PidsResponse resp;
  for (int i = 0; i < 100 && resp.processes_size() < 2; ++i) {
    resp.Clear();
    ASSERT_FALSE(call("Pids", req, resp).code);
    ctx_.run_for(20ms);
  }
  ASSERT_GE(resp.processes_size(), 2);
  EXPECT_EQ(resp.processes(0).pid(), pid);
  api::KillRequest kill;
  kill.set_id("t1");
  kill.set_signal(SIGKILL);
  kill.set_all(true);
  ASSERT_FALSE(call("Kill", kill).code);
  EXPECT_EQ(wait("t1").exit_status(), 128U + SIGKILL);
}

TEST_F(task_service_test, exec_lives_its_own_life) {
  create("t1", {"/bin/sleep", "100"});
  start("t1");
  api::ExecProcessRequest exec;
  exec.set_id("t1");
  exec.set_exec_id("e1");
  exec.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
  exec.mutable_spec()->set_value(R"({"args":["/bin/sh","-c","exit 5"],"cwd":"/"})");
  ASSERT_FALSE(call("Exec", exec).code);
  EXPECT_EQ(status_of(call("Exec", exec)), static_cast<int>(code::already_exists));
  auto bad = exec;
  bad.set_exec_id("e2");
  bad.mutable_spec()->set_value("not json");
  EXPECT_EQ(status_of(call("Exec", bad)), static_cast<int>(code::invalid_argument));
  bad.set_id("nope");
  EXPECT_EQ(status_of(call("Exec", bad)), static_cast<int>(code::not_found));

  EXPECT_EQ(state("t1", "e1").status(), ::containerd::v1::types::CREATED);
  auto pid = start("t1", "e1");
  EXPECT_GT(pid, 0U);
  EXPECT_EQ(wait("t1", "e1").exit_status(), 5U);
  auto s = state("t1", "e1");
  EXPECT_EQ(s.status(), ::containerd::v1::types::STOPPED);
  EXPECT_EQ(s.exec_id(), "e1");
  EXPECT_EQ(s.id(), "e1");
  api::DeleteRequest del;
  del.set_id("t1");
  del.set_exec_id("e1");
  api::DeleteResponse deleted;
  ASSERT_FALSE(call("Delete", del, deleted).code);
  EXPECT_EQ(deleted.pid(), pid);
  EXPECT_EQ(deleted.exit_status(), 5U);
  api::StateRequest sreq;
  sreq.set_id("t1");
  sreq.set_exec_id("e1");
  api::StateResponse sresp;
  EXPECT_EQ(status_of(call("State", sreq, sresp)), static_cast<int>(code::not_found));
  EXPECT_EQ(state("t1").status(), ::containerd::v1::types::RUNNING);

  auto topics = events_->topics();
  EXPECT_EQ(topics, (std::vector<std::string>{"/tasks/create", "/tasks/start", "/tasks/exec-added",
                                              "/tasks/exec-started", "/tasks/exit"}));
  ::containerd::events::TaskExit exit;
  ASSERT_TRUE(exit.ParseFromString(events_->events.back().bytes));
  EXPECT_EQ(exit.id(), "e1");
  EXPECT_EQ(exit.container_id(), "t1");
  EXPECT_EQ(exit.exit_status(), 5U);
}

TEST_F(task_service_test, close_io_ends_stdin_and_output_reaches_the_fifo) {
  auto in = (root_ / "in").string();
  auto out = (root_ / "out").string();
  ASSERT_EQ(::mkfifo(in.c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(out.c_str(), 0600), 0);
  int reader = ::open(out.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  api::CreateTaskRequest req;
  req.set_id("t1");
  req.set_bundle(bundle("t1", {"/bin/cat"}));
  req.set_stdin(in);
  req.set_stdout(out);
  api::CreateTaskResponse resp;
  ASSERT_FALSE(call("Create", req, resp).code);
  start("t1");
  int writer = ::open(in.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_EQ(::write(writer, "ping\n", 5), 5);
  ::close(writer);
  api::CloseIORequest close;
  close.set_id("t1");
  close.set_stdin(true);
  ASSERT_FALSE(call("CloseIO", close).code);
  EXPECT_EQ(wait("t1").exit_status(), 0U);
  char buffer[64] = {};
  ssize_t n = ::read(reader, buffer, sizeof buffer);
  ::close(reader);
  EXPECT_EQ(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0U), "ping\n");
  api::ResizePtyRequest resize;
  resize.set_id("t1");
  resize.set_width(80);
  resize.set_height(24);
  EXPECT_FALSE(call("ResizePty", resize).code);
}

TEST_F(task_service_test, unsupported_methods_are_not_implemented) {
  create("t1", {"/bin/true"});
  api::PauseRequest pause;
  pause.set_id("t1");
  EXPECT_EQ(status_of(call("Pause", pause)), static_cast<int>(code::unimplemented));
  api::ResumeRequest resume;
  resume.set_id("t1");
  EXPECT_EQ(status_of(call("Resume", resume)), static_cast<int>(code::unimplemented));
  api::CheckpointTaskRequest checkpoint;
  checkpoint.set_id("t1");
  auto e = call("Checkpoint", checkpoint);
  EXPECT_EQ(status_of(e), static_cast<int>(code::unimplemented));
  EXPECT_EQ(e.message, "checkpoint: not implemented");
  api::UpdateTaskRequest update;
  update.set_id("t1");
  EXPECT_EQ(status_of(call("Update", update)), static_cast<int>(code::unimplemented));
  api::StatsRequest stats;
  stats.set_id("t1");
  api::StatsResponse stats_resp;
  EXPECT_EQ(status_of(call("Stats", stats, stats_resp)), static_cast<int>(code::unimplemented));
  stats.set_id("nope");
  EXPECT_EQ(status_of(call("Stats", stats, stats_resp)), static_cast<int>(code::not_found));
}

TEST_F(task_service_test, shutdown_acts_only_for_its_own_id_and_when_empty_or_now) {
  api::ShutdownRequest req;
  req.set_id("other");
  ASSERT_FALSE(call("Shutdown", req).code);
  create("t1", {"/bin/true"});
  req.set_id("shim1");
  ASSERT_FALSE(call("Shutdown", req).code);
  ctx_.run_for(20ms);
  EXPECT_TRUE(shutdowns_.empty());
  req.set_now(true);
  ASSERT_FALSE(call("Shutdown", req).code);
  ctx_.run_for(20ms);
  EXPECT_EQ(shutdowns_, (std::vector<bool>{true}));
}

TEST_F(task_service_test, shutdown_without_tasks_acts) {
  api::ShutdownRequest req;
  req.set_id("shim1");
  ASSERT_FALSE(call("Shutdown", req).code);
  ctx_.run_for(20ms);
  EXPECT_EQ(shutdowns_, (std::vector<bool>{false}));
}

TEST_F(task_service_test, many_tasks_in_one_shim_and_a_record_for_delete) {
  auto sandbox = create("pod", {"/bin/sleep", "100"});
  auto c1 = create("c1", {"/bin/sh", "-c", "exit 1"});
  auto c2 = create("c2", {"/bin/sh", "-c", "exit 2"});
  EXPECT_EQ(service_->task_count(), 3U);
  auto record = read_task_record(root_ / "pod");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->init.pid, static_cast<int>(sandbox));
  EXPECT_EQ(record->init.start_time, backend::process_start_time(static_cast<int>(sandbox)));
  start("pod");
  start("c1");
  start("c2");
  EXPECT_EQ(wait("c1").exit_status(), 1U);
  EXPECT_EQ(wait("c2").exit_status(), 2U);
  record = read_task_record(root_ / "c2");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->exit_status, 2U);
  EXPECT_EQ(record->init.pid, static_cast<int>(c2));
  api::DeleteRequest del;
  del.set_id("c1");
  api::DeleteResponse deleted;
  ASSERT_FALSE(call("Delete", del, deleted).code);
  EXPECT_EQ(deleted.pid(), c1);
  EXPECT_FALSE(read_task_record(root_ / "c1"));
  EXPECT_EQ(state("pod").status(), ::containerd::v1::types::RUNNING);
}

TEST_F(task_service_test, dropping_the_service_kills_its_tasks) {
  auto pid = create("t1", {"/bin/sleep", "100"});
  start("t1");
  service_.reset();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    ctx_.run_for(20ms);
    gone = !backend::process_start_time(static_cast<int>(pid)).has_value();
  }
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace runhcs::service
