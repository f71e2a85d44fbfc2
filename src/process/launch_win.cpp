// Process launch on Windows: CreateProcessW with an explicit handle list (stdin, the stdout
// pipe, the stderr file and nothing else), the child held in a kill-on-close job until
// detach(), readiness read from an overlapped named pipe.
//
// Why a job: a failed start must leave nothing running, including anything serve started;
// TerminateJobObject reaches the whole tree and, should start itself die, closing the job
// kills it too. detach() lifts JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and lets the job go, so
// serve outlives start.
#include <windows.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/windows/object_handle.hpp>
#include <boost/asio/windows/stream_handle.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/win32_win.hpp"
#include "process/launch.hpp"

namespace runhcs::process {
namespace {

namespace asio = boost::asio;
using win32::unique_handle;

constexpr std::size_t max_output = 64 * 1024;
// kill() is synchronous; it waits this long for the process to be gone.
constexpr DWORD kill_wait_ms = 5000;

error os_error(std::string what, DWORD code = ::GetLastError()) {
  std::error_code ec = win32::error_code_from(code);
  return {ec, what + ": " + ec.message()};
}

// One argument quoted so that CommandLineToArgvW (and the C runtime) give it back unchanged.
void append_quoted(std::wstring& line, std::wstring_view arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring_view::npos) {
    line.append(arg);
    return;
  }
  line.push_back(L'"');
  for (std::size_t i = 0;; ++i) {
    std::size_t backslashes = 0;
    while (i < arg.size() && arg[i] == L'\\') {
      ++i;
      ++backslashes;
    }
    if (i == arg.size()) {
      line.append(backslashes * 2, L'\\');  // they precede the closing quote
      break;
    }
    if (arg[i] == L'"') {
      line.append(backslashes * 2 + 1, L'\\');
    } else {
      line.append(backslashes, L'\\');
    }
    line.push_back(arg[i]);
  }
  line.push_back(L'"');
}

std::wstring command_line(const launch_options& options) {
  std::wstring line;
  append_quoted(line, options.executable.wstring());
  for (const auto& arg : options.arguments) {
    line.push_back(L' ');
    append_quoted(line, win32::widen(arg));
  }
  return line;
}

SECURITY_ATTRIBUTES inheritable() {
  return {sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
}

// The child's stdout: an overlapped read end for Asio (anonymous pipes cannot do overlapped
// I/O, so a uniquely named one) and a plain inheritable write end for the child.
result<std::pair<unique_handle, unique_handle>> make_stdout_pipe() {
  static std::atomic<unsigned> counter{0};
  std::wstring name = L"\\\\.\\pipe\\runhcs-stdout-" + std::to_wstring(::GetCurrentProcessId()) +
                      L"-" + std::to_wstring(counter++) + L"-" +
                      std::to_wstring(::GetTickCount64());
  unique_handle read_end(::CreateNamedPipeW(
      name.c_str(), PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 0, 64 * 1024,
      0, nullptr));
  if (!read_end) {
    return os_error("create stdout pipe");
  }
  auto attributes = inheritable();
  unique_handle write_end(::CreateFileW(name.c_str(), GENERIC_WRITE, 0, &attributes, OPEN_EXISTING,
                                        FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!write_end) {
    return os_error("open stdout pipe");
  }
  return std::make_pair(std::move(read_end), std::move(write_end));
}

// Our stdin as an inheritable handle of its own; NUL when we have none.
result<unique_handle> inheritable_stdin() {
  HANDLE ours = ::GetStdHandle(STD_INPUT_HANDLE);
  HANDLE copy = nullptr;
  if (ours != nullptr && ours != INVALID_HANDLE_VALUE &&
      ::DuplicateHandle(::GetCurrentProcess(), ours, ::GetCurrentProcess(), &copy, 0, TRUE,
                        DUPLICATE_SAME_ACCESS)) {
    return unique_handle(copy);
  }
  auto attributes = inheritable();
  unique_handle null_device(::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                          &attributes, OPEN_EXISTING, 0, nullptr));
  if (!null_device) {
    return os_error("open NUL for stdin");
  }
  return null_device;
}

result<unique_handle> open_stderr_file(const std::filesystem::path& path) {
  auto attributes = inheritable();
  // FILE_SHARE_DELETE: a bundle holding an open panic.log must still be removable (hcsshim #1316).
  unique_handle file(::CreateFileW(path.empty() ? L"NUL" : path.c_str(), GENERIC_WRITE,
                                   FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                   &attributes, path.empty() ? OPEN_EXISTING : CREATE_ALWAYS,
                                   FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file) {
    return os_error("open stderr file " + path.string());
  }
  return file;
}

// A job that kills its processes when its last handle closes.
unique_handle make_kill_on_close_job() {
  unique_handle job(::CreateJobObjectW(nullptr, nullptr));
  if (!job) {
    return {};
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                                 sizeof(limits))) {
    return {};
  }
  return job;
}

// object_handle::async_wait ignores per-operation cancellation; this one answers terminal
// cancellation by cancelling the wait, so it can be raced against a deadline.
template <class Token>
auto async_wait_cancellable(asio::windows::object_handle& waiter, Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code)>(
      [](auto handler, asio::windows::object_handle* object) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
          slot.assign([object](asio::cancellation_type) {
            boost::system::error_code ignored;
            object->cancel(ignored);
          });
        }
        object->async_wait(
            [handler = std::move(handler), slot](boost::system::error_code ec) mutable {
              if (slot.is_connected()) {
                slot.clear();
              }
              std::move(handler)(ec);
            });
      },
      token, &waiter);
}

}  // namespace

struct child::impl {
  explicit impl(const asio::any_io_executor& ex) : executor(ex), stdout_pipe(ex) {}

  asio::any_io_executor executor;
  unique_handle process;
  unique_handle job;  // null when the system refused us a job: then only the child is killed
  DWORD pid = 0;
  asio::windows::stream_handle stdout_pipe;
  std::string output;
  bool detached = false;
  std::optional<exit_status> status;

  std::optional<exit_status> poll() {
    if (!status && process && ::WaitForSingleObject(process.get(), 0) == WAIT_OBJECT_0) {
      DWORD code = 0;
      ::GetExitCodeProcess(process.get(), &code);
      status = exit_status{static_cast<int>(code), 0};
    }
    return status;
  }

  asio::awaitable<void> read_to_eof() {
    std::array<char, 4096> buffer{};
    for (;;) {
      auto [ec, n] = co_await stdout_pipe.async_read_some(asio::buffer(buffer),
                                                          asio::as_tuple(asio::use_awaitable));
      output.append(buffer.data(), std::min(n, max_output - std::min(max_output, output.size())));
      // EOF arrives as broken_pipe (every writer closed); any other error ends the output too.
      if (ec) {
        co_return;
      }
    }
  }

  asio::awaitable<bool> wait_for_exit() {
    HANDLE copy = nullptr;
    if (!::DuplicateHandle(::GetCurrentProcess(), process.get(), ::GetCurrentProcess(), &copy,
                           SYNCHRONIZE, FALSE, 0)) {
      co_return false;
    }
    asio::windows::object_handle waiter(executor, copy);
    auto [ec] = co_await async_wait_cancellable(waiter, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
};

child::child(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
child::child(child&&) noexcept = default;
child& child::operator=(child&& other) noexcept {
  if (this != &other) {
    if (impl_ && !impl_->detached) {
      kill();
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}
child::~child() {
  if (impl_ && !impl_->detached) {
    kill();
  }
}

int child::pid() const noexcept {
  return static_cast<int>(impl_->pid);
}

asio::awaitable<drain_outcome> child::drain_stdout(deadline until) {
  bool finished = co_await with_deadline(impl_->read_to_eof(), until);
  co_return drain_outcome{finished ? drain_outcome::kind::eof : drain_outcome::kind::timed_out,
                          impl_->output};
}

std::optional<exit_status> child::try_exit_status() {
  return impl_->poll();
}

asio::awaitable<std::optional<exit_status>> child::wait_exit(deadline until) {
  if (auto status = impl_->poll()) {
    co_return status;
  }
  co_await with_deadline(impl_->wait_for_exit(), until);
  co_return impl_->poll();
}

void child::kill() noexcept {
  if (!impl_ || !impl_->process) {
    return;
  }
  // The job reaches what the child started, even once the child itself has exited.
  const bool job_terminated = impl_->job && ::TerminateJobObject(impl_->job.get(), 1);
  if (!job_terminated && !impl_->poll()) {
    ::TerminateProcess(impl_->process.get(), 1);
  }
  if (!impl_->poll()) {
    ::WaitForSingleObject(impl_->process.get(), kill_wait_ms);
    impl_->poll();
  }
}

void child::detach() noexcept {
  if (!impl_) {
    return;
  }
  impl_->detached = true;
  if (impl_->job) {
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
    ::SetInformationJobObject(impl_->job.get(), JobObjectExtendedLimitInformation, &limits,
                              sizeof(limits));
    impl_->job.reset();
  }
}

result<child> launch(const asio::any_io_executor& executor, const launch_options& options) {
  auto pipe = make_stdout_pipe();
  if (!pipe) {
    return pipe.error();
  }
  auto [read_end, write_end] = std::move(*pipe);
  auto stdin_handle = inheritable_stdin();
  if (!stdin_handle) {
    return stdin_handle.error();
  }
  auto stderr_file = open_stderr_file(options.stderr_path);
  if (!stderr_file) {
    return stderr_file.error();
  }

  // Exactly these three handles reach the child, whatever else is inheritable in this process.
  std::array<HANDLE, 3> inherited{stdin_handle->get(), write_end.get(), stderr_file->get()};
  SIZE_T list_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &list_size);
  std::vector<char> list_storage(list_size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data());
  if (!::InitializeProcThreadAttributeList(attributes, 1, 0, &list_size)) {
    return os_error("prepare the child's handle list");
  }
  struct attribute_list_guard {
    LPPROC_THREAD_ATTRIBUTE_LIST list;
    ~attribute_list_guard() { ::DeleteProcThreadAttributeList(list); }
  } guard{attributes};
  if (!::UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                   inherited.data(), sizeof(inherited), nullptr, nullptr)) {
    return os_error("prepare the child's handle list");
  }

  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof(startup);
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = stdin_handle->get();
  startup.StartupInfo.hStdOutput = write_end.get();
  startup.StartupInfo.hStdError = stderr_file->get();
  startup.lpAttributeList = attributes;

  std::wstring line = command_line(options);
  std::wstring application = options.executable.wstring();
  std::wstring directory = options.working_directory.wstring();
  // Suspended until it is in the job, so nothing it starts escapes the job. No console at all
  // and its own process group: containerd's Ctrl+C or console close must not reach it.
  // DETACHED_PROCESS rather than CREATE_NO_WINDOW: under Wine the latter gives the child a
  // second copy of its stdout, so closing stdout no longer signals readiness.
  const DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP |
                      DETACHED_PROCESS | CREATE_UNICODE_ENVIRONMENT;
  PROCESS_INFORMATION info{};
  if (!::CreateProcessW(application.c_str(), line.data(), nullptr, nullptr, TRUE, flags, nullptr,
                        directory.empty() ? nullptr : directory.c_str(), &startup.StartupInfo,
                        &info)) {
    return os_error("start " + options.executable.string());
  }
  unique_handle thread(info.hThread);
  auto state = std::make_unique<child::impl>(executor);
  state->process = unique_handle(info.hProcess);
  state->pid = info.dwProcessId;
  state->job = make_kill_on_close_job();
  if (state->job && !::AssignProcessToJobObject(state->job.get(), state->process.get())) {
    state->job.reset();
  }
  ::ResumeThread(thread.get());

  // Our copies of the child's ends must go, or EOF never comes.
  write_end.reset();
  stderr_file->reset();
  stdin_handle->reset();

  boost::system::error_code assign_error;
  state->stdout_pipe.assign(read_end.get(), assign_error);
  if (assign_error) {
    child failed(std::move(state));  // killed as it goes
    return error{assign_error, "watch the child's stdout: " + assign_error.message()};
  }
  read_end.release();
  return child(std::move(state));
}

}  // namespace runhcs::process
