// A stand-in for serve in the launch tests: each mode is one way a child can behave.
#include <windows.h>

#include <shellapi.h>

#include <string>

namespace {

void write_to(DWORD which, const std::string& text) {
  DWORD written = 0;
  ::WriteFile(::GetStdHandle(which), text.data(), static_cast<DWORD>(text.size()), &written,
              nullptr);
}

std::string narrow(const wchar_t* text) {
  int size = ::WideCharToMultiByte(CP_UTF8, 0, text, -1, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(size > 0 ? size - 1 : 0), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text, -1, out.data(), size, nullptr, nullptr);
  return out;
}

void close_stdout() {
  ::CloseHandle(::GetStdHandle(STD_OUTPUT_HANDLE));
}

// Starts this program again in "sleep" mode, inheriting every inheritable handle we hold:
// the worst a serve could do with handles it was given.
DWORD spawn_sleeper() {
  wchar_t self[MAX_PATH];
  ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  std::wstring line = L"\"" + std::wstring(self) + L"\" sleep";
  STARTUPINFOW startup{};
  startup.cb = sizeof(startup);
  PROCESS_INFORMATION info{};
  if (!::CreateProcessW(self, line.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup,
                        &info)) {
    return 0;
  }
  ::CloseHandle(info.hThread);
  ::CloseHandle(info.hProcess);
  return info.dwProcessId;
}

}  // namespace

int main() {
  int argc = 0;
  wchar_t** argv = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  std::string mode = argc > 1 ? narrow(argv[1]) : "";
  if (mode == "exit-early") {
    return 3;
  }
  if (mode == "print-and-stay") {  // ready, stderr written, stdout closed, still running
    write_to(STD_OUTPUT_HANDLE, "ready\n");
    write_to(STD_ERROR_HANDLE, "oops\n");
    close_stdout();
    ::Sleep(60000);
    return 0;
  }
  if (mode == "never-close") {
    ::Sleep(60000);
    return 0;
  }
  if (mode == "echo-args") {
    for (int i = 2; i < argc; ++i) {
      write_to(STD_OUTPUT_HANDLE, "[" + narrow(argv[i]) + "]\n");
    }
    return 0;
  }
  if (mode == "spawn-grandchild") {
    // Our stdout is the launcher's pipe: keep it to ourselves, as serve does.
    ::SetHandleInformation(::GetStdHandle(STD_OUTPUT_HANDLE), HANDLE_FLAG_INHERIT, 0);
    DWORD pid = spawn_sleeper();
    write_to(STD_OUTPUT_HANDLE, std::to_string(pid) + "\n");
    return pid == 0 ? 1 : 0;
  }
  if (mode == "sleep") {
    ::Sleep(60000);
    return 0;
  }
  write_to(STD_ERROR_HANDLE, "win_child: unknown mode\n");
  return 2;
}
