"""The OrderReader helper (order_system/contracts/OrderReader.sol): `getOrder` for many orders of
one block in a single `eth_call`, its runtime code supplied through the call's state override.

The runtime code is kept here, not read from order_system/build/, because the processor's image
ships without compiled artifacts; test_order_reader.py checks it is what compile.mjs produces
from the source. Calldata and answer are standard ABI::

    getOrders(address trading, uint256[] ids) returns (bytes[] answers)

and each answer is `getOrder(id)`'s raw return data.
"""

from __future__ import annotations

from eth_utils.crypto import keccak

# Nothing lives here on any chain: the override places the reader's code at this address for the
# duration of one call.
READER_ADDRESS = "0x" + keccak(text="linkora.order-reader")[-20:].hex()
GET_ORDERS_SELECTOR = "0x" + keccak(text="getOrders(address,uint256[])")[:4].hex()

RUNTIME_CODE = "0x" + (
    "608060405234801561000f575f80fd5b5060043610610029575f3560e01c80636ecd4fc21461002d575b5f80"
    "fd5b61004061003b3660046100d4565b610056565b60405161004d9190610162565b60405180910390f35b60"
    "60816080602081528160208201526040810160208302810163d09ef24160e01b5f525f5b848110156100cd57"
    "602081028801356004525f8060245f8c5afa6100a1573d5f803e3d5ffd5b3d83830360208302850152808352"
    "805f602085013e601f01601f1916919091016020019060010161007b565b5082810383f35b5f805f60408486"
    "0312156100e6575f80fd5b83356001600160a01b03811681146100fc575f80fd5b9250602084013567ffffff"
    "ffffffffff811115610117575f80fd5b8401601f81018613610127575f80fd5b803567ffffffffffffffff81"
    "111561013d575f80fd5b8660208260051b8401011115610151575f80fd5b9396602091909101955092935050"
    "50565b5f602082016020835280845180835260408501915060408160051b8601019250602086015f5b828110"
    "156101da57603f19878603018452815180518087528060208301602089015e5f602082890101526020601f19"
    "601f83011688010196505050602082019150602084019350600181019050610188565b509296955050505050"
    "5056fea26469706673582212208f7132fd0783c568c8e44b13efe914d0cbf4a196bb9bee8128bd27ef86571a"
    "7164736f6c634300081a0033"
)


class ReaderAnswerError(ValueError):
    """The call's answer is not a `bytes[]` of the expected length (the override was ignored?)."""


def encode_get_orders(trading: str, order_ids: list[int]) -> str:
    head = format(int(trading, 16), "064x") + format(64, "064x") + format(len(order_ids), "064x")
    return GET_ORDERS_SELECTOR + head + "".join(format(i, "064x") for i in order_ids)


def state_override() -> dict[str, dict[str, str]]:
    """eth_call's third parameter: the reader's code at READER_ADDRESS."""
    return {READER_ADDRESS: {"code": RUNTIME_CODE}}


def decode_get_orders(result: str, count: int) -> list[str]:
    """The `count` raw answers (hex strings, as a direct eth_call returns them)."""
    return ["0x" + answer.hex() for answer in split_get_orders(result, count)]


def split_get_orders(result: str, count: int) -> list[bytes]:
    """The `count` raw answers as bytes (what the processor decodes: no hex round trip)."""
    data = bytes.fromhex(result[2:] if result.startswith("0x") else result)
    size = len(data)
    big = int.from_bytes

    def word(position: int) -> int:
        if position < 0 or position + 32 > size:
            raise ReaderAnswerError(f"answer too short ({size} bytes) for word at {position}")
        return big(data[position : position + 32])

    array = word(0)
    if word(array) != count:
        raise ReaderAnswerError(f"{word(array)} answers for {count} orders")
    base = array + 32
    answers = []
    for index in range(count):
        start = base + word(base + 32 * index)
        length = word(start)
        if start + 32 + length > size:
            raise ReaderAnswerError(f"answer {index} runs past the end of the data")
        answers.append(data[start + 32 : start + 32 + length])
    return answers
