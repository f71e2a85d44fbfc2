// The named-pipe transport under Wine/Windows: dial retries and deadlines, the listener's
// instances, cancellation, end of stream, and the pipes' security descriptor.
#include <aclapi.h>
#include <sddl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

#include "common/win32_win.hpp"
#include "shim/address.hpp"
#include "test_support.hpp"
#include "transport/transport.hpp"

namespace {

namespace asio = boost::asio;
using namespace runhcs;
using namespace runhcs::test;
using namespace asio::experimental::awaitable_operators;
using transport::stream;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> sleep_for(steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_tuple);
}

// One byte each way over a connected pair.
asio::awaitable<bool> exchange(stream& a, stream& b) {
  char out = 'x';
  char in = 0;
  auto [write_error, written] = co_await asio::async_write(a, asio::buffer(&out, 1), use_tuple);
  auto [read_error, read] = co_await asio::async_read(b, asio::buffer(&in, 1), use_tuple);
  co_return !write_error && !read_error && in == 'x';
}

TEST(pipe_dial, missing_pipe_times_out_at_the_deadline) {
  run_bounded([]() -> asio::awaitable<void> {
    const auto bound = 300ms;
    auto start = steady_clock::now();
    std::error_code ec;
    co_await transport::dial(unique_pipe("missing"), start + bound, ec);
    auto elapsed = since(start);
    std::printf("dial to a missing pipe with a %lld ms deadline failed after %lld ms\n",
                static_cast<long long>(bound.count()), static_cast<long long>(elapsed.count()));
    EXPECT_EQ(ec, transport::errc::timeout) << ec.message();
    EXPECT_GE(elapsed, bound);
    EXPECT_LT(elapsed, bound + 500ms);
  });
}

TEST(pipe_dial, rejects_an_address_that_is_not_a_pipe) {
  run_bounded([]() -> asio::awaitable<void> {
    std::error_code ec;
    co_await transport::dial("unix:///run/x.sock", steady_clock::now() + 1s, ec);
    EXPECT_EQ(ec, transport::errc::invalid_address);
    auto l = transport::listener::listen(co_await asio::this_coro::executor, R"(\\.\pipe\)", ec);
    EXPECT_EQ(ec, transport::errc::invalid_address);
    EXPECT_FALSE(l.is_open());
  });
}

TEST(pipe_dial, reaches_a_server_that_appears_after_the_client_started) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("late");
    auto start = steady_clock::now();
    std::error_code client_error;
    std::error_code server_error;
    auto client = [&]() -> asio::awaitable<stream> {
      co_return co_await transport::dial(name, start + 5s, client_error);
    };
    auto server = [&]() -> asio::awaitable<stream> {
      co_await sleep_for(300ms);
      auto l = transport::listener::listen(executor, name, server_error);
      if (server_error) {
        co_return stream(executor);
      }
      co_return co_await l.accept(server_error);
    };
    auto [c, s] = co_await (client() && server());
    EXPECT_FALSE(client_error) << client_error.message();
    EXPECT_FALSE(server_error) << server_error.message();
    EXPECT_GE(since(start), 250ms);
    EXPECT_TRUE(co_await exchange(c, s));
  });
}

TEST(pipe_dial, retries_a_busy_pipe_until_an_instance_frees_up) {
  run_bounded([]() -> asio::awaitable<void> {
    const std::string name = unique_pipe("busy");
    const std::wstring wide = win32::widen(name);
    // A server with a single instance, taken by a first client.
    win32::unique_handle server(
        ::CreateNamedPipeW(wide.c_str(), PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                           PIPE_TYPE_BYTE | PIPE_WAIT, 1, 4096, 4096, 0, nullptr));
    EXPECT_TRUE(server);
    win32::unique_handle first(::CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                             OPEN_EXISTING, 0, nullptr));
    EXPECT_TRUE(first);
    // The precondition: a second client is told BUSY.
    win32::unique_handle probe(::CreateFileW(wide.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr,
                                             OPEN_EXISTING, 0, nullptr));
    EXPECT_FALSE(probe);
    EXPECT_EQ(::GetLastError(), static_cast<DWORD>(ERROR_PIPE_BUSY));

    auto start = steady_clock::now();
    OVERLAPPED reconnect{};
    win32::unique_handle event(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
    reconnect.hEvent = event.get();
    auto free_instance = [&]() -> asio::awaitable<void> {
      co_await sleep_for(300ms);
      first.reset();
      ::DisconnectNamedPipe(server.get());
      ::ConnectNamedPipe(server.get(), &reconnect);
    };
    std::error_code ec;
    auto dial = [&]() -> asio::awaitable<stream> {
      co_return co_await transport::dial(name, start + 5s, ec);
    };
    auto client = co_await (free_instance() && dial());
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(client.is_open());
    EXPECT_GE(since(start), 250ms);
    DWORD bytes = 0;
    EXPECT_TRUE(::GetOverlappedResult(server.get(), &reconnect, &bytes, TRUE) ||
                ::GetLastError() == ERROR_PIPE_CONNECTED);
  });
}

TEST(pipe_dial, can_be_cancelled) {
  run_bounded([]() -> asio::awaitable<void> {
    auto start = steady_clock::now();
    std::error_code ec;
    auto outcome = co_await with_deadline(
        transport::dial(unique_pipe("cancelled"), start + 10s, ec), start + 200ms);
    EXPECT_FALSE(outcome.has_value());
    EXPECT_LT(since(start), 2s);
  });
}

TEST(pipe_listener, pending_accept_ends_at_its_deadline_and_the_listener_still_works) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("accept");
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    EXPECT_FALSE(ec) << ec.message();
    auto start = steady_clock::now();
    auto accepted = co_await with_deadline(l.accept(ec), start + 300ms);
    auto elapsed = since(start);
    std::printf("pending accept with a 300 ms deadline ended after %lld ms\n",
                static_cast<long long>(elapsed.count()));
    EXPECT_FALSE(accepted.has_value());
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 800ms);

    std::error_code client_error;
    auto [c, s] =
        co_await (transport::dial(name, steady_clock::now() + 5s, client_error) && l.accept(ec));
    EXPECT_FALSE(client_error) << client_error.message();
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(co_await exchange(c, s));
  });
}

TEST(pipe_listener, close_ends_a_pending_accept) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    std::error_code ec;
    auto l = transport::listener::listen(executor, unique_pipe("close"), ec);
    EXPECT_FALSE(ec);
    std::error_code accept_error;
    auto closer = [&]() -> asio::awaitable<void> {
      co_await sleep_for(100ms);
      l.close();
    };
    co_await (l.accept(accept_error) && closer());
    EXPECT_EQ(accept_error, std::errc::operation_canceled) << accept_error.message();
    EXPECT_FALSE(l.is_open());
  });
}

TEST(pipe_stream, pending_read_ends_at_its_deadline) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("read");
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    std::error_code client_error;
    auto [c, s] =
        co_await (transport::dial(name, steady_clock::now() + 5s, client_error) && l.accept(ec));
    EXPECT_FALSE(ec || client_error);
    char byte = 0;
    auto start = steady_clock::now();
    auto read = co_await with_deadline(
        c.async_read_some(asio::buffer(&byte, 1), asio::use_awaitable), start + 300ms);
    auto elapsed = since(start);
    std::printf("pending read with a 300 ms deadline ended after %lld ms\n",
                static_cast<long long>(elapsed.count()));
    EXPECT_FALSE(read.has_value());
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 800ms);
  });
}

TEST(pipe_stream, a_closed_peer_reads_as_end_of_stream) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("eof");
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    std::error_code client_error;
    auto [c, s] =
        co_await (transport::dial(name, steady_clock::now() + 5s, client_error) && l.accept(ec));
    EXPECT_FALSE(ec || client_error);
    char byte = 0;
    // Server side gone: the client's read ends.
    s.close();
    auto [client_read, n] = co_await c.async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_TRUE(client_read == asio::error::eof || client_read == asio::error::broken_pipe)
        << client_read.message();
    // And the other way round.
    auto [c2, s2] =
        co_await (transport::dial(name, steady_clock::now() + 5s, client_error) && l.accept(ec));
    c2.close();
    auto [server_read, m] = co_await s2.async_read_some(asio::buffer(&byte, 1), use_tuple);
    EXPECT_TRUE(server_read == asio::error::eof || server_read == asio::error::broken_pipe)
        << server_read.message();
  });
}

TEST(pipe_listener, serves_many_clients_connecting_at_once) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("many");
    constexpr int clients = 24;
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    EXPECT_FALSE(ec);
    int succeeded = 0;
    std::set<int> seen;
    auto client = [&](int index) -> asio::awaitable<void> {
      std::error_code dial_error;
      auto c = co_await transport::dial(name, steady_clock::now() + 10s, dial_error);
      if (dial_error) {
        co_return;
      }
      char out = static_cast<char>(index);
      char in = 0;
      auto [w, wn] = co_await asio::async_write(c, asio::buffer(&out, 1), use_tuple);
      auto [r, rn] = co_await asio::async_read(c, asio::buffer(&in, 1), use_tuple);
      if (!w && !r && in == out) {
        ++succeeded;
      }
    };
    auto serve_one = [&](stream s) -> asio::awaitable<void> {
      char byte = 0;
      auto [r, rn] = co_await asio::async_read(s, asio::buffer(&byte, 1), use_tuple);
      if (!r) {
        seen.insert(byte);
        co_await asio::async_write(s, asio::buffer(&byte, 1), use_tuple);
      }
    };
    auto server = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < clients; ++i) {
        std::error_code accept_error;
        auto s = co_await l.accept(accept_error);
        if (accept_error) {
          co_return;
        }
        asio::co_spawn(executor, serve_one(std::move(s)), asio::detached);
      }
    };
    for (int i = 0; i < clients; ++i) {
      asio::co_spawn(executor, client(i), asio::detached);
    }
    co_await server();
    // Let the last replies arrive.
    for (int i = 0; i < 500 && succeeded < clients; ++i) {
      co_await sleep_for(10ms);
    }
    EXPECT_EQ(succeeded, clients);
    EXPECT_EQ(static_cast<int>(seen.size()), clients);
  });
}

TEST(pipe_listener, a_second_listener_on_the_same_name_fails) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("twice");
    std::error_code ec;
    auto first = transport::listener::listen(executor, name, ec);
    EXPECT_FALSE(ec) << ec.message();
    std::error_code second_error;
    auto second = transport::listener::listen(executor, name, second_error);
    EXPECT_EQ(second_error, transport::errc::address_in_use) << second_error.message();
    EXPECT_FALSE(second.is_open());
    EXPECT_TRUE(first.is_open());
  });
}

TEST(pipe_listener, the_shim_address_under_protected_prefix_works) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string id = "t" + std::to_string(::GetCurrentProcessId());
    const std::string name =
        shim::shim_address({.containerd_address = "", .ns = "default", .id = id, .socket_dir = ""});
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    EXPECT_FALSE(ec) << ec.message();
    std::error_code client_error;
    auto [c, s] =
        co_await (transport::dial(name, steady_clock::now() + 5s, client_error) && l.accept(ec));
    EXPECT_FALSE(client_error) << client_error.message();
    EXPECT_TRUE(co_await exchange(c, s));
  });
}

// The DACL a listener's pipe carries, as SDDL.
std::wstring dacl_of(HANDLE pipe) {
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  PACL dacl = nullptr;
  if (::GetSecurityInfo(pipe, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, &dacl,
                        nullptr, &descriptor) != ERROR_SUCCESS) {
    return L"<unreadable>";
  }
  wchar_t* text = nullptr;
  std::wstring result;
  if (::ConvertSecurityDescriptorToStringSecurityDescriptorW(
          descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &text, nullptr)) {
    result = text;
    ::LocalFree(text);
  }
  ::LocalFree(descriptor);
  return result;
}

TEST(pipe_security, pipes_grant_system_and_administrators_only) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("dacl");
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    EXPECT_FALSE(ec);
    std::error_code client_error;
    auto c = co_await transport::dial(name, steady_clock::now() + 5s, client_error);
    EXPECT_FALSE(client_error) << client_error.message();
    std::string dacl = win32::narrow(dacl_of(c.native_handle()));
    std::printf("pipe DACL: %s\n", dacl.c_str());
    // Windows may print generic-all as GA or as the pipe's full access (FA).
    EXPECT_TRUE(dacl.starts_with("D:P")) << dacl;
    EXPECT_TRUE(dacl.find(";;;SY)") != std::string::npos) << dacl;
    EXPECT_TRUE(dacl.find(";;;BA)") != std::string::npos) << dacl;
    EXPECT_EQ(dacl.find(";;;WD)"), std::string::npos) << dacl;  // not Everyone
    EXPECT_EQ(dacl.find(";;;AN)"), std::string::npos) << dacl;  // not Anonymous
  });
}

// Wine stores pipe DACLs but does not enforce them.
bool under_wine() {
  HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

TEST(pipe_security, a_client_the_dacl_refuses_gets_access_denied_at_once) {
  if (under_wine()) {
    GTEST_SKIP() << "Wine does not enforce pipe DACLs; this runs on Windows (windows-msvc)";
  }
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string name = unique_pipe("denied");
    ::_putenv("RUNHCS_PIPE_SDDL=D:P");  // a DACL with no entries: nobody may open it
    std::error_code ec;
    auto l = transport::listener::listen(executor, name, ec);
    ::_putenv("RUNHCS_PIPE_SDDL=");
    EXPECT_FALSE(ec) << ec.message();
    auto start = steady_clock::now();
    std::error_code client_error;
    co_await transport::dial(name, start + 5s, client_error);
    EXPECT_EQ(client_error, transport::errc::access_denied) << client_error.message();
    EXPECT_LT(since(start), 1s);  // not retried until the deadline
  });
}

TEST(pipe_security, an_invalid_sddl_override_fails_listen) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    ::_putenv("RUNHCS_PIPE_SDDL=not sddl");
    std::error_code ec;
    auto l = transport::listener::listen(executor, unique_pipe("sddl"), ec);
    ::_putenv("RUNHCS_PIPE_SDDL=");
    EXPECT_TRUE(ec);
    EXPECT_FALSE(l.is_open());
  });
}

}  // namespace
