#include "objects/domain_list.hpp"

namespace splitvirt::objects {

std::optional<DomainView> DomainList::findByUuid(const conf::Uuid& uuid) const {
  std::shared_lock lk(mutex_);
  auto it = byUuid_.find(uuid);
  if (it == byUuid_.end()) return std::nullopt;
  return it->second;
}

std::optional<DomainView> DomainList::findByName(const std::string& name) const {
  std::shared_lock lk(mutex_);
  auto it = byName_.find(name);
  if (it == byName_.end()) return std::nullopt;
  return byUuid_.at(it->second);
}

std::optional<DomainView> DomainList::findById(int id) const {
  std::shared_lock lk(mutex_);
  for (auto& [u, v] : byUuid_)
    if (v.id == id && id >= 0) return v;
  return std::nullopt;
}

std::vector<DomainView> DomainList::all() const {
  std::shared_lock lk(mutex_);
  std::vector<DomainView> out;
  out.reserve(byUuid_.size());
  for (auto& [u, v] : byUuid_) out.push_back(v);
  return out;
}

void DomainList::put(DomainView v) {
  std::unique_lock lk(mutex_);
  auto it = byUuid_.find(v.def->uuid);
  if (it != byUuid_.end() && it->second.def->name != v.def->name) byName_.erase(it->second.def->name);
  byName_[v.def->name] = v.def->uuid;
  byUuid_[v.def->uuid] = std::move(v);
}

void DomainList::remove(const conf::Uuid& uuid) {
  std::unique_lock lk(mutex_);
  auto it = byUuid_.find(uuid);
  if (it == byUuid_.end()) return;
  byName_.erase(it->second.def->name);
  byUuid_.erase(it);
}

bool DomainList::setAutostart(const conf::Uuid& uuid, bool on) {
  std::unique_lock lk(mutex_);
  auto it = byUuid_.find(uuid);
  if (it == byUuid_.end()) return false;
  it->second.autostart = on;
  return true;
}

std::optional<DomainView> DomainList::update(const conf::Uuid& uuid, const std::function<void(DomainView&)>& fn) {
  std::unique_lock lk(mutex_);
  auto it = byUuid_.find(uuid);
  if (it == byUuid_.end()) return std::nullopt;
  fn(it->second);
  return it->second;
}

}  // namespace splitvirt::objects
