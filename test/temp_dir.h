// A fresh directory under the system's temp directory for one test, removed
// with everything in it when the object goes. No gRPC.
#ifndef TEST_TEMP_DIR_H_
#define TEST_TEMP_DIR_H_

#include <string>

namespace testing_util {

class TempDir {
 public:
  // Creates the directory (REQUIREs that it worked). `prefix` names it, to
  // tell leftovers of a killed test apart.
  explicit TempDir(const std::string& prefix = "inventory_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name, not created.
  std::string Path(const std::string& name) const;
  // Writes `contents` (bytes as given) to path()/name and returns that path.
  std::string WriteFile(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

}  // namespace testing_util

#endif  // TEST_TEMP_DIR_H_
