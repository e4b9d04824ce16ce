// The InventoryService's look-up methods as the engine names them (for
// engine::Engine::MethodStats, InventoryTestServer::CallsStarted and
// ScriptedInventory::CallsStarted).
#ifndef TEST_INVENTORY_METHODS_H_
#define TEST_INVENTORY_METHODS_H_

namespace testing_util {

inline constexpr char kBatchMethod[] = "inventory.InventoryService/BatchGetProductAvailability";
inline constexpr char kUnaryMethod[] = "inventory.InventoryService/GetProductAvailability";

}  // namespace testing_util

#endif  // TEST_INVENTORY_METHODS_H_
