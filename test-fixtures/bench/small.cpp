// Small, self-contained C++ translation unit used by bench/run.mjs for the
// per-call "hit" and "miss" scenarios. Handwritten; typical of a project file:
// a few standard headers, some templates instantiated, nothing exotic.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace bench {

struct Entry {
  std::string name;
  std::vector<int> values;
};

class Registry {
 public:
  void add(const std::string& name, int value) { entries_[name].push_back(value); }

  std::vector<Entry> sorted() const {
    std::vector<Entry> out;
    out.reserve(entries_.size());
    for (const auto& [name, values] : entries_) {
      Entry e{name, values};
      std::sort(e.values.begin(), e.values.end());
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
      return a.values.size() > b.values.size() || (a.values.size() == b.values.size() && a.name < b.name);
    });
    return out;
  }

  int total() const {
    int sum = 0;
    for (const auto& kv : entries_)
      for (int v : kv.second) sum += v;
    return sum;
  }

 private:
  std::map<std::string, std::vector<int>> entries_;
};

std::string summarize(const std::vector<std::string>& words) {
  Registry r;
  for (std::size_t i = 0; i < words.size(); ++i) r.add(words[i], static_cast<int>(i));
  std::string out;
  for (const auto& e : r.sorted()) {
    out += e.name;
    out += ':';
    out += std::to_string(e.values.size());
    out += ' ';
  }
  out += std::to_string(r.total());
  return out;
}

}  // namespace bench
