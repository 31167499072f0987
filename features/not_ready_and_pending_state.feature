Feature: NOT_READY with a reason code, and a state asked during a call
  The agent goes NOT_READY with one of the reason codes the app lists. A state asked for
  during a call is kept as the pending state and applied when the call ends.

  Background:
    Given these agents are logged in through the app:
      | agent | mode         | dial number  |
      | 1001  | CALL_BY_CALL | +15551230001 |

  Scenario: The app lists the NOT_READY reason codes
    Then agent 1001's app and Finesse list the NOT_READY reason codes Break, Lunch

  Scenario: READY, then NOT_READY for lunch
    When agent 1001 goes READY
    Then agent 1001 is READY in the app and in Finesse
    When agent 1001 goes NOT_READY with reason "Lunch"
    Then agent 1001 is NOT_READY with reason "Lunch" in the app and in Finesse

  Scenario: NOT_READY needs a reason code
    Given agent 1001 is READY
    When agent 1001 tries to go NOT_READY
    Then it is refused with 400 Parameter Missing
    And agent 1001 is READY in the app and in Finesse

  Scenario: A reason code that does not exist is refused
    Given agent 1001 is READY
    When agent 1001 tries to go NOT_READY with reason code 99
    Then it is refused with 400 Invalid Input
    And agent 1001 is READY in the app and in Finesse

  Scenario Outline: A state asked during a call waits for the end of the call
    Given agent 1001 is talking to a customer
    When agent 1001 goes <asked>
    Then agent 1001 has the pending state <pending> in the app and in Finesse
    And agent 1001 is TALKING in the app and in Finesse
    When the customer hangs up
    Then agent 1001 is <after the call> in the app and in Finesse
    And agent 1001 has no pending state in the app and in Finesse

    Examples:
      | asked                         | pending   | after the call |
      | NOT_READY with reason "Break" | NOT_READY | WORK           |
      | READY                         | READY     | WORK_READY     |

  Scenario: NOT_READY asked during a call applies once wrap-up ends
    Given the simulator clock runs 100 times faster
    And agent 1001 is talking to a customer
    When agent 1001 goes NOT_READY with reason "Lunch"
    Then agent 1001 has the pending state NOT_READY in the app and in Finesse
    When agent 1001 ends the call
    Then within 5 seconds agent 1001 is NOT_READY with reason "Lunch" in the app and in Finesse
