"""More words per lexical class, for the ``large`` lexicon of the synthetic corpus (``TextConfig.lexicon``).

Fiedler et al. (2025) decode from a closed vocabulary of about 125 words (:data:`~espnet_brain.simulate.text.LEXICON`
is of that size) and name larger vocabularies as their open question. These lists extend each class of the grammar
with common English words (about 1,100 more, so that a few thousand sentences use well over 1,000 distinct words);
they are appended after the basic lexicon, which keeps its words first.
"""

from typing import Dict, Tuple


def _words(text: str) -> Tuple[str, ...]:
    return tuple(text.split())


EXTRA: Dict[str, Tuple[str, ...]] = {
    "adj": _words(
        """
        new good long great high large real sure early late hard clean dirty empty full fresh free open short soft
        strong sweet thin thick tall wide wild wise brave calm cheap clever cool deep dry easy fair fast fine flat
        funny glad grand huge kind lazy loud lucky nice plain poor proud quick rare rich rough round sad safe sharp
        shiny silly simple slow smart smooth spare steep still sunny tiny tough ugly warm weak wet whole wooden
        yellow blue brown purple orange pink golden silver grey white black pale broken famous foreign friendly
        useful careful hungry thirsty sleepy noisy lonely lovely pretty ready rusty salty sandy shy sick sore spicy
        sticky stormy sudden tender tidy tight ancient angry awful basic bitter blind bold bored bumpy busy capable
        cheerful chilly clear cloudy cozy crazy creamy crisp crowded cruel curious curly damp dear decent delicate
        dusty eager elegant endless enormous exact faint fancy fierce firm flat fluffy foggy fond fragile frozen
        fuzzy generous giant graceful grateful greasy handsome hollow honest humble icy idle jolly juicy keen large
        lean little loose loyal mad magic mild modern modest muddy narrow neat nervous noble odd patient peaceful
        perfect plastic pleasant polite precious private public pure rainy raw recent remote rotten royal rural
        sacred scared secret serious shallow silent skinny sleek slim slippery snowy solid sour spotted stable stiff
        stolen striped stupid sturdy sunny swift tame tasty terrible thankful tricky true urban vast velvet violent
        visible warm weekly windy woolen worried yearly zesty
        """
    ),
    "noun": _words(
        """
        ball bag bed bell bike board bottle bowl box bread bridge brother brush bucket bus cake camera candle cap
        card carpet cat chair cheese chicken church clock cloud coat coffee computer cookie corner cow cup curtain
        desk dinner dish dress drum duck egg engine farm farmer fence field finger fire fish flag floor flower fork
        fox frog gate gift girl glass glove goat grass guitar hammer hand hat hill horse hotel island jacket jar key
        king kite knife ladder lake lamp leaf lemon library lion map market mirror monkey moon mountain mouse
        nurse ocean orange owl painter pan paper park parrot pen pencil piano picture pig pillow plane plate pocket
        pond pot potato queen rabbit radio ring rock roof room rope rose sailor salad school sea seat sheep ship
        shirt shoe shop singer sister sky snake soap sock sofa soldier spoon star station stone store street student
        sun sweater tail tea tent tiger toy tower town train tree truck turtle umbrella uncle village wall wallet
        watch wheel whale wolf worm writer yard actor airport album alley angel ankle apron arrow artist attic aunt
        baby bakery balloon banana band bank barn basket bath beach bean bear beard bee belt bench berry blanket
        boot bottle branch brick bride broom bubble button cabin cable cage camel canal candy canoe captain castle
        cave ceiling cellar chain chalk cherry chest chimney circle circus cliff closet clown coach coin collar
        comb cottage cousin crab crown cucumber cushion dancer daughter deer dentist diamond dolphin donkey dragon
        drawer driver eagle elephant elevator envelope factory feather ferry fisherman flute forest fountain frame
        garage giraffe goose grape guard guest hallway harbor helmet hen highway hospital husband jungle kettle
        kitten knight ladder lawyer lighthouse lizard lobster locker magnet mailbox manager mayor meadow melon
        merchant microphone motor mountain museum mushroom nail necklace needle nephew nest newspaper niece
        notebook nut onion orchard oven palace pancake parcel passenger peach pear pebble pepper pharmacy
        photograph pilot pirate pizza planet plum poet pony porch postcard prince princess puppy purse puzzle
        rainbow raincoat reporter ribbon robot rocket sack saddle sandwich saucer scarf scientist scissors
        shadow shelf shell shovel sink skirt sled slipper snail spider sponge squirrel stable staircase statue
        stove strawberry suitcase swan sword teapot telescope theater thread ticket toaster tomato toothbrush
        torch tractor tray trumpet tunnel uniform valley vase violin wagon waiter waitress wardrobe waterfall
        wheelbarrow whistle wife wire wizard zebra apartment backpack bathtub battery blender bookcase bracelet
        cabinet calendar carrot cartoon cashier castle cathedral cereal chef chocolate classroom cliff compass
        cracker crayon customer dessert diary dictionary doll doorbell dormitory elbow engineer eraser fridge
        gallery garlic glacier grandfather grandmother hairbrush hamburger handbag headphones hedge hurricane
        icicle jacket jellyfish kangaroo keyboard lantern lemonade lettuce lollipop meteor minister moose
        napkin neighbor notepad octopus officer orchestra ostrich paddle pajamas panda parachute parade
        pasta peanut pelican penguin picnic pineapple playground plumber pumpkin pyramid quilt raccoon recipe
        refrigerator reindeer restaurant rhino sandcastle satellite sausage scooter seagull shark skyscraper
        snowman spaceship stadium stapler submarine sunflower supermarket surgeon tablet taxi teacup teddy
        television tortoise traveler treasure tulip typewriter vacuum volcano walrus warehouse windmill
        woodpecker
        """
    ),
    "vt": _words(
        """
        made gave kept left brought built caught chose cleaned climbed cooked counted covered crossed cut drew
        dropped dried ate fed filled fixed folded followed forgot gathered grabbed grew guarded helped hid held
        hugged hit joined kicked kissed knew led lifted lit lost loved mailed marked mended missed moved noticed
        ordered packed passed picked planted played pulled pushed read repaired rode rolled saved searched sent
        served shared shook showed signed smelled sorted spotted started stole studied swept taught threw tied
        touched traded trusted turned used walked wore wrapped wrote admired answered baked borrowed boiled
        buried burned called changed chased checked collected delivered described destroyed discovered dragged
        emptied enjoyed entered examined explained feared fetched finished greeted guessed hated hunted ignored
        invited ironed judged kept knocked liked locked measured mixed named offered owned peeled photographed
        polished poured praised prepared printed protected raised received recorded remembered rented returned
        rinsed scrubbed selected shaved shot sketched sliced stirred stopped stretched supported surprised
        tasted tested thanked tossed towed tracked trained unlocked unpacked visited warned weighed welcomed
        wiped
        """
    ),
    "vi": _words(
        """
        cried danced jumped swam talked worked played rested cooked paused shouted whispered slipped hurried
        wandered listened prayed knocked returned stopped started travelled sat stood fell grew hid lied sighed
        snored sneezed coughed yawned shivered blushed frowned giggled nodded rushed skated skied jogged marched
        climbed drowned floated flew melted rose shone sank slid spun studied voted camped fished sailed hiked
        dreamed
        """
    ),
    "vbase": _words(
        """
        buy make keep bring build catch choose clean climb cook count cover cross cut draw drop eat feed fill fix
        fold follow forget get give grab grow hold help hide hit hug join kick kiss know leave lift light lose
        love mail mark meet mend miss move notice order pack pass pick plant play pull push read repair ride roll
        save search send serve share shake show sign smell sort start steal study sweep teach throw tie touch
        trade trust turn use visit wear wrap write admire answer bake borrow boil bury burn call change chase
        check collect deliver describe destroy discover drag empty enjoy enter examine explain fear fetch finish
        greet guess hate hunt ignore invite iron judge knock lock measure mix name offer own peel photograph
        polish pour praise prepare print protect raise receive record remember rent return rinse scrub select
        shave shoot sketch slice stir stop stretch support surprise taste test thank toss tow track train unlock
        unpack warn weigh welcome wipe
        """
    ),
    "adv": _words(
        """
        now soon here there tomorrow always never often sometimes usually rarely already finally suddenly quietly
        loudly gently carefully happily sadly badly easily eagerly proudly softly calmly bravely politely
        patiently silently warmly briefly nearby upstairs downstairs indoors overnight everywhere somewhere
        together alone once twice daily weekly monthly instead anyway afterwards meanwhile
        """
    ),
    "prep": _words("beneath above below around along against among between beyond toward outside near"),
}
