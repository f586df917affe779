#include "server/yaml_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <memory>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace palisade::server {

std::string YamlDocument::ErrorString() const {
  if (line <= 0) return error;
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + error;
}

namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kStringTag = "tag:yaml.org,2002:str";

bool IsDigits(std::string_view text, bool hex = false) {
  if (text.empty()) return false;
  for (const char c : text) {
    const bool digit = c >= '0' && c <= '9';
    const bool hex_letter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit && !(hex && hex_letter)) return false;
  }
  return true;
}

// [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsFloat(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  std::size_t integer_digits = 0, fraction_digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i, ++integer_digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i, ++fraction_digits;
  }
  if (integer_digits == 0 && fraction_digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (!IsDigits(text.substr(i))) return false;
    i = text.size();
  }
  return i == text.size();
}

// A plain scalar under the YAML 1.2 core schema. Infinity and NaN have no JSON form: they stay
// strings.
Value ResolvePlain(const std::string& text, Allocator& allocator) {
  if (text == "true" || text == "True" || text == "TRUE") return Value(true);
  if (text == "false" || text == "False" || text == "FALSE") return Value(false);
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return Value();
  }
  std::string_view view(text);
  const char* end = view.data() + view.size();
  if (view.size() > 2 && view[0] == '0' && (view[1] == 'o' || view[1] == 'x')) {
    const bool hex = view[1] == 'x';
    std::uint64_t number = 0;
    const auto digits = view.substr(2);
    if ((hex ? IsDigits(digits, true)
             : IsDigits(digits) && digits.find_first_of("89") == std::string_view::npos)) {
      const auto [ptr, ec] = std::from_chars(digits.data(), end, number, hex ? 16 : 8);
      if (ec == std::errc() && ptr == end) return Value(number);
    }
  }
  std::string_view unsigned_part = view;
  if (!view.empty() && (view[0] == '-' || view[0] == '+')) unsigned_part = view.substr(1);
  if (IsDigits(unsigned_part)) {
    const std::string_view signed_text = view[0] == '+' ? unsigned_part : view;
    std::int64_t number = 0;
    auto [ptr, ec] = std::from_chars(signed_text.data(), end, number);
    if (ec == std::errc() && ptr == end) return Value(number);
    if (signed_text[0] != '-') {
      std::uint64_t big = 0;
      auto [uptr, uec] = std::from_chars(signed_text.data(), end, big);
      if (uec == std::errc() && uptr == end) return Value(big);
    }
  }
  if (IsFloat(view)) {
    const std::string_view float_text = view[0] == '+' ? view.substr(1) : view;
    double number = 0;
    const auto [ptr, ec] = std::from_chars(float_text.data(), end, number);
    if (ec == std::errc() && ptr == end) return Value(number);
  }
  return Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
}

// Builds RapidJSON values from yaml-cpp's parse events with an explicit stack (no recursion).
// After the first problem in a document, the rest of its events are ignored.
class JsonBuilder final : public YAML::EventHandler {
 public:
  JsonBuilder(const YamlLimits& limits, std::size_t nodes_before, std::vector<YamlDocument>* out)
      : limits_(limits), nodes_before_(nodes_before), out_(out) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 starts document after document at a stray top-level ',' without consuming it:
    // stop there instead of looping forever (and growing without bound).
    if (mark.pos == last_document_pos_) throw YAML::ParserException(mark, "unexpected character");
    if (limits_.max_documents != 0 &&
        static_cast<std::size_t>(next_index_) >= limits_.max_documents) {
      throw YAML::ParserException(mark, "more than " + std::to_string(limits_.max_documents) +
                                            " documents in one text: the rest is not read");
    }
    last_document_pos_ = mark.pos;
    current_ = YamlDocument();
    current_.index = next_index_++;
    in_document_ = true;
    failed_ = false;
    have_root_ = false;
    nodes_ = 0;
    stack_.clear();
    anchors_.clear();
  }

  void OnDocumentEnd() override {
    if (!failed_ && have_root_) {
      static_cast<Value&>(current_.json) = std::move(root_);
      current_.empty = current_.json.IsNull();
    }
    Finish();
  }

  std::size_t text_nodes() const { return text_nodes_; }

  // A parse error ends the stream; the document it happened in carries it.
  void Abort(const YAML::Mark& mark, const std::string& message) {
    if (!in_document_) {
      current_ = YamlDocument();
      current_.index = next_index_++;
      in_document_ = true;
      failed_ = false;
    }
    Fail(mark, message);
    Finish();
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed_ || !Count(mark, 1)) return;
    if (InKeyPosition()) {
      AddKey(mark, "null", false);
      return;
    }
    Emit(Value(), anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed_) return;
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      Fail(mark, "alias refers to a node that contains it");
      return;
    }
    if (!Count(mark, it->second.nodes)) return;
    if (InKeyPosition()) {
      if (!it->second.value.IsString()) {
        Fail(mark, "mapping key must be a scalar");
        return;
      }
      AddKey(mark, std::string(it->second.value.GetString(), it->second.value.GetStringLength()),
             false);
      return;
    }
    Emit(Value(it->second.value, Alloc()), YAML::NullAnchor, it->second.nodes);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    if (failed_ || !Count(mark, 1)) return;
    if (InKeyPosition()) {
      AddKey(mark, text, tag == "?");
      if (anchor != YAML::NullAnchor) {
        anchors_[anchor] = Anchored{Value(text.data(), Alloc()), 1};
      }
      return;
    }
    if (tag == "!" || tag == kStringTag) {
      Emit(Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), Alloc()), anchor, 1);
    } else {
      Emit(ResolvePlain(text, Alloc()), anchor, 1);
    }
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor, false);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor, true);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    bool is_map = false;
    Value value;
    YAML::anchor_t anchor = YAML::NullAnchor;
    std::size_t nodes_at_start = 0;
    YAML::Mark mark;
    bool have_key = false;
    bool key_is_merge = false;
    Value key;
    YAML::Mark key_mark;
    std::unordered_set<std::string> keys;
    std::vector<Value> merges;  // values of `<<` entries, applied when the mapping closes
  };
  struct Anchored {
    Value value;
    std::size_t nodes = 1;
  };

  Allocator& Alloc() { return current_.json.GetAllocator(); }

  void Finish() {
    stack_.clear();
    anchors_.clear();
    if (failed_) current_.json.SetNull();
    out_->push_back(std::move(current_));
    current_ = YamlDocument();
    in_document_ = false;
  }

  void Fail(const YAML::Mark& mark, std::string message) {
    if (failed_) return;
    failed_ = true;
    current_.error = std::move(message);
    if (!mark.is_null() && mark.line >= 0) {
      current_.line = mark.line + 1;
      current_.column = mark.column + 1;
    }
    stack_.clear();
    anchors_.clear();
  }

  bool Count(const YAML::Mark& mark, std::size_t nodes) {
    text_nodes_ += nodes;
    if (limits_.max_text_nodes != 0 && nodes_before_ + text_nodes_ > limits_.max_text_nodes) {
      // Ends the text (a parse error does): its later documents would only fail the same way.
      throw YAML::ParserException(
          mark, "more than " + std::to_string(limits_.max_text_nodes) +
                    " nodes (after expanding aliases) in the texts read together: the rest is "
                    "not read");
    }
    nodes_ += nodes;
    if (nodes_ > limits_.max_nodes) {
      Fail(mark, "document has more than " + std::to_string(limits_.max_nodes) +
                     " nodes (after expanding aliases)");
      return false;
    }
    return true;
  }

  bool InKeyPosition() const {
    return !stack_.empty() && stack_.back().is_map && !stack_.back().have_key;
  }

  void AddKey(const YAML::Mark& mark, const std::string& key, bool plain) {
    Frame& frame = stack_.back();
    frame.key_is_merge = plain && key == "<<";
    if (!frame.key_is_merge && !frame.keys.insert(key).second) {
      Fail(mark, "duplicate key \"" + key + "\"");
      return;
    }
    frame.key.SetString(key.data(), static_cast<rapidjson::SizeType>(key.size()), Alloc());
    frame.key_mark = mark;
    frame.have_key = true;
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    if (failed_ || !Count(mark, 1)) return;
    if (InKeyPosition()) {
      Fail(mark, "mapping key must be a scalar");
      return;
    }
    if (stack_.size() >= static_cast<std::size_t>(limits_.max_depth)) {
      Fail(mark, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
      return;
    }
    Frame frame;
    frame.is_map = is_map;
    if (is_map) {
      frame.value.SetObject();
    } else {
      frame.value.SetArray();
    }
    frame.anchor = anchor;
    frame.nodes_at_start = nodes_ - 1;
    frame.mark = mark;
    stack_.push_back(std::move(frame));
  }

  void Close() {
    if (failed_ || stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.is_map && !ApplyMerges(&frame)) return;
    Emit(std::move(frame.value), frame.anchor, nodes_ - frame.nodes_at_start);
  }

  // Merge keys: entries of the merged mappings that the mapping does not set itself, earlier
  // mappings first.
  bool ApplyMerges(Frame* frame) {
    for (Value& merge : frame->merges) {
      std::vector<Value*> sources;
      if (merge.IsObject()) {
        sources.push_back(&merge);
      } else {
        for (Value& item : merge.GetArray()) sources.push_back(&item);
      }
      for (Value* source : sources) {
        // By index: clang rejects comparing RapidJSON's mutable member iterators in C++20.
        for (rapidjson::SizeType i = 0, n = source->MemberCount(); i < n; ++i) {
          auto& member = source->MemberBegin()[i];
          std::string key(member.name.GetString(), member.name.GetStringLength());
          if (!frame->keys.insert(key).second) continue;
          frame->value.AddMember(member.name, member.value, Alloc());
        }
      }
    }
    return true;
  }

  void Emit(Value value, YAML::anchor_t anchor, std::size_t nodes) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchored{Value(value, Alloc()), nodes};
    if (stack_.empty()) {
      root_ = std::move(value);
      have_root_ = true;
      return;
    }
    Frame& top = stack_.back();
    if (!top.is_map) {
      top.value.PushBack(value, Alloc());
      return;
    }
    top.have_key = false;
    if (top.key_is_merge) {
      bool mergeable = value.IsObject();
      if (value.IsArray()) {
        mergeable = true;
        for (const Value& item : value.GetArray()) mergeable = mergeable && item.IsObject();
      }
      if (!mergeable) {
        Fail(top.key_mark, "merge key \"<<\" needs a mapping or a list of mappings");
        return;
      }
      top.merges.push_back(std::move(value));
      return;
    }
    top.value.AddMember(top.key, value, Alloc());
  }

  const YamlLimits& limits_;
  const std::size_t nodes_before_;
  std::vector<YamlDocument>* out_;
  YamlDocument current_;
  int next_index_ = 0;
  int last_document_pos_ = -1;
  bool in_document_ = false;
  bool failed_ = false;
  bool have_root_ = false;
  Value root_;
  std::size_t nodes_ = 0;
  std::size_t text_nodes_ = 0;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
};

}  // namespace

std::size_t ForEachYamlDocument(std::string_view text,
                                const std::function<void(YamlDocument&)>& on_document,
                                const YamlLimits& limits, std::size_t nodes_before) {
  if (limits.max_flow_marks != 0) {
    const auto marks = static_cast<std::size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return c == ',' || c == '[' || c == '{'; }));
    if (marks > limits.max_flow_marks) {
      YamlDocument refused;
      refused.error = std::to_string(marks) + " of ',', '[' and '{', more than the " +
                      std::to_string(limits.max_flow_marks) +
                      " a text may have: write long lists as block lists (\"- item\" lines)";
      on_document(refused);
      return 0;
    }
  }
  std::vector<YamlDocument> finished;  // what the last step of the parser finished: one or two
  JsonBuilder builder(limits, nodes_before, &finished);
  // Hands over what is finished outside the parser's try: an exception of on_document is not a
  // YAML error.
  auto hand_over = [&] {
    for (YamlDocument& document : finished) on_document(document);
    finished.clear();
  };
  std::istringstream in;
  std::unique_ptr<YAML::Parser> parser;
  bool more = true;
  while (more) {
    try {
      if (parser == nullptr) {
        in.str(std::string(text));
        parser = std::make_unique<YAML::Parser>(in);
      }
      more = parser->HandleNextDocument(builder);
    } catch (const YAML::Exception& error) {
      builder.Abort(error.mark, error.msg);
      more = false;
    } catch (const std::exception& error) {
      builder.Abort(YAML::Mark::null_mark(), error.what());
      more = false;
    }
    hand_over();
  }
  return builder.text_nodes();
}

std::vector<YamlDocument> ParseYamlDocuments(std::string_view text, const YamlLimits& limits) {
  std::vector<YamlDocument> documents;
  ForEachYamlDocument(
      text, [&](YamlDocument& document) { documents.push_back(std::move(document)); }, limits);
  return documents;
}

}  // namespace palisade::server
