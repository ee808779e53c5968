// SPDX-License-Identifier: Apache-2.0

/// A binary min-heap of `UInt64` keys, reused across words without reallocating.
struct MinHeap {
    private(set) var keys: [UInt64] = []

    mutating func removeAll() { keys.removeAll(keepingCapacity: true) }

    mutating func push(_ key: UInt64) {
        keys.append(key)
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard keys[child] < keys[parent] else { break }
            keys.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> UInt64? {
        guard let last = keys.popLast() else { return nil }
        guard !keys.isEmpty else { return last }
        let top = keys[0]
        keys[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < keys.count else { break }
            let right = left + 1
            let child = right < keys.count && keys[right] < keys[left] ? right : left
            guard keys[child] < keys[parent] else { break }
            keys.swapAt(child, parent)
            parent = child
        }
        return top
    }
}
